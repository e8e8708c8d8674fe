// CKVM: the Linux kernel interfaces the KVM monitor needs that Swift cannot import by itself —
// ioctl request numbers (function-like macros in linux/kvm.h and linux/if_tun.h), the variadic ioctl
// and prctl, and the seccomp structures. Nothing here has logic of its own.
#ifndef CKVM_H
#define CKVM_H

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <stdint.h>
#include <sys/ioctl.h>

static const unsigned long CKVM_GET_API_VERSION = KVM_GET_API_VERSION;
static const unsigned long CKVM_CREATE_VM = KVM_CREATE_VM;
static const unsigned long CKVM_GET_VCPU_MMAP_SIZE = KVM_GET_VCPU_MMAP_SIZE;
static const unsigned long CKVM_GET_SUPPORTED_CPUID = KVM_GET_SUPPORTED_CPUID;
static const unsigned long CKVM_SET_USER_MEMORY_REGION = KVM_SET_USER_MEMORY_REGION;
static const unsigned long CKVM_CREATE_VCPU = KVM_CREATE_VCPU;
static const unsigned long CKVM_SET_CPUID2 = KVM_SET_CPUID2;
static const unsigned long CKVM_GET_REGS = KVM_GET_REGS;
static const unsigned long CKVM_SET_REGS = KVM_SET_REGS;
static const unsigned long CKVM_GET_SREGS = KVM_GET_SREGS;
static const unsigned long CKVM_SET_SREGS = KVM_SET_SREGS;
static const unsigned long CKVM_GET_FPU = KVM_GET_FPU;
static const unsigned long CKVM_SET_FPU = KVM_SET_FPU;
static const unsigned long CKVM_GET_TSC_KHZ = KVM_GET_TSC_KHZ;
static const unsigned long CKVM_RUN = KVM_RUN;
static const unsigned long CKVM_TUNSETIFF = TUNSETIFF;

static const uint32_t CKVM_AUDIT_ARCH_X86_64 = AUDIT_ARCH_X86_64;

/// Room for the CPUID entries KVM reports (real CPUs report fewer than 100).
struct ckvm_cpuid {
    struct kvm_cpuid2 header;
    struct kvm_cpuid_entry2 entries[128];
};

int ckvm_ioctl(int fd, unsigned long request, void *argument);
int ckvm_ioctl_value(int fd, unsigned long request, unsigned long value);

/// The fields of a KVM_EXIT_IO exit (an anonymous union member of struct kvm_run).
void ckvm_exit_io(const struct kvm_run *run, uint8_t *direction, uint8_t *size, uint16_t *port,
                  uint32_t *count, uint64_t *dataOffset);
/// The suberror of a KVM_EXIT_INTERNAL_ERROR exit and the hardware reason of KVM_EXIT_FAIL_ENTRY.
uint32_t ckvm_exit_internal_suberror(const struct kvm_run *run);
uint64_t ckvm_exit_fail_entry_reason(const struct kvm_run *run);
/// Address and direction of a KVM_EXIT_MMIO exit.
uint64_t ckvm_exit_mmio_address(const struct kvm_run *run, uint8_t *isWrite);

/// ppoll(2) (a GNU extension the Swift importer does not see): `timeout` NULL waits forever.
struct pollfd;
struct timespec;
int ckvm_ppoll(struct pollfd *descriptors, unsigned long count, const struct timespec *timeout);

/// The host CPU's CPUID leaf (eax, ebx, ecx, edx into `registers`).
void ckvm_host_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t registers[4]);

/// Attaches to the tap device `name` (IFF_TAP | IFF_NO_PI). Returns the descriptor or -errno.
int ckvm_open_tap(const char *name);

/// Sets no_new_privs and installs `count` BPF instructions as this thread's seccomp filter.
/// Returns 0 or -errno.
int ckvm_install_seccomp(const struct sock_filter *program, unsigned short count);

/// For tests: forks a child that installs `program` as its seccomp filter (ckvm_install_seccomp), makes
/// syscall `allowedSyscall` with `allowedArguments` (6 values), reports its result (-errno on failure)
/// through a pipe, then makes `forbiddenSyscall` with `forbiddenArguments` and `_exit(0)`s. Returns the
/// child's raw wait status, or -errno if the probe itself failed. `*reachedForbiddenCall` is 1 if the
/// child got past the allowed call (the result arrived), and `*allowedResult` is that result.
int ckvm_seccomp_child_probe_arguments(const struct sock_filter *program, unsigned short count,
                                       long allowedSyscall, const long *allowedArguments,
                                       long forbiddenSyscall, const long *forbiddenArguments,
                                       int *reachedForbiddenCall, long *allowedResult);

/// ckvm_seccomp_child_probe_arguments with default arguments: the allowed call gets
/// (1, <64-byte stack buffer>, 0, 0, 0, 0) — e.g. clock_gettime(CLOCK_MONOTONIC, &ts) or a 0-byte
/// write to fd 1 — and the forbidden call gets none (all zero).
int ckvm_seccomp_child_probe(const struct sock_filter *program, unsigned short count, long allowedSyscall,
                             long forbiddenSyscall, int *reachedForbiddenCall);

#endif
