// VirtioNetPCIDevice: the virtio-net driver over virtio-pci, for QEMU's pc and q35 machines
// (`-device virtio-net-pci,disable-legacy=on`, which `tessera run` attaches). The driver itself is
// `VirtioNetDriver` (virtio-net-core); `virtio-net` binds it to virtio-mmio instead.

import VirtioNetCore
import VirtioPCI

public typealias VirtioNetPCIDevice = VirtioNetDriver<VirtioPCITransport>
