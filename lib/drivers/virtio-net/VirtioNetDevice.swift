// VirtioNetDevice: the virtio-net driver over virtio-mmio, the transport of QEMU's microvm. The
// driver itself is `VirtioNetDriver` (virtio-net-core); `virtio-net-pci` binds it to PCI instead.

import Virtio
import VirtioNetCore

public typealias VirtioNetDevice = VirtioNetDriver<VirtioMMIO>
