// Virtio9PDevice: the virtio-9p driver over virtio-mmio, the transport of QEMU's microvm
// (`tessera run -v` attaches `virtio-9p-device`). The driver is `Virtio9PDriver`.

import Virtio
import Virtio9PCore

public typealias Virtio9PDevice = Virtio9PDriver<VirtioMMIO>
