// VirtioBlockDevice: the virtio-blk driver over virtio-mmio, the transport of QEMU's microvm
// (`tessera run --disk FILE` attaches `virtio-blk-device`). The driver is `VirtioBlockDriver`.

import Virtio
import VirtioBlockCore

public typealias VirtioBlockDevice = VirtioBlockDriver<VirtioMMIO>
