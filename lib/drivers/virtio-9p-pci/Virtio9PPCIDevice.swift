// Virtio9PPCIDevice: the virtio-9p driver over modern virtio-pci, for QEMU's pc and q35 machines
// (`tessera run -v` attaches `virtio-9p-pci,disable-legacy=on`).

import Virtio9PCore
import VirtioPCI

public typealias Virtio9PPCIDevice = Virtio9PDriver<VirtioPCITransport>
