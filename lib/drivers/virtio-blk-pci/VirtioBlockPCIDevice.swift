// VirtioBlockPCIDevice: the virtio-blk driver over modern virtio-pci, for QEMU's pc and q35 machines
// (`tessera run --disk FILE` attaches `virtio-blk-pci,disable-legacy=on`).

import VirtioBlockCore
import VirtioPCI

public typealias VirtioBlockPCIDevice = VirtioBlockDriver<VirtioPCITransport>
