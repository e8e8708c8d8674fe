// CKVM: thin C shims for the KVM monitor (see include/CKVM.h).
#define _GNU_SOURCE
#include "CKVM.h"

#include <cpuid.h>
#include <poll.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int ckvm_ioctl(int fd, unsigned long request, void *argument) { return ioctl(fd, request, argument); }

int ckvm_ioctl_value(int fd, unsigned long request, unsigned long value) { return ioctl(fd, request, value); }

void ckvm_exit_io(const struct kvm_run *run, uint8_t *direction, uint8_t *size, uint16_t *port,
                  uint32_t *count, uint64_t *dataOffset) {
    *direction = run->io.direction;
    *size = run->io.size;
    *port = run->io.port;
    *count = run->io.count;
    *dataOffset = run->io.data_offset;
}

uint32_t ckvm_exit_internal_suberror(const struct kvm_run *run) { return run->internal.suberror; }

uint64_t ckvm_exit_fail_entry_reason(const struct kvm_run *run) {
    return run->fail_entry.hardware_entry_failure_reason;
}

uint64_t ckvm_exit_mmio_address(const struct kvm_run *run, uint8_t *isWrite) {
    *isWrite = run->mmio.is_write;
    return run->mmio.phys_addr;
}

int ckvm_ppoll(struct pollfd *descriptors, unsigned long count, const struct timespec *timeout) {
    return ppoll(descriptors, count, timeout, NULL);
}

void ckvm_host_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t registers[4]) {
    __cpuid_count(leaf, subleaf, registers[0], registers[1], registers[2], registers[3]);
}

int ckvm_open_tap(const char *name) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &request) < 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    return fd;
}

int ckvm_install_seccomp(const struct sock_filter *program, unsigned short count) {
    struct sock_fprog filter = { .len = count, .filter = (struct sock_filter *)program };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -errno;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &filter) < 0) return -errno;
    return 0;
}

#include <sys/resource.h>
#include <sys/wait.h>

// The probe child runs after fork() in a possibly multithreaded process: only async-signal-safe calls
// (raw syscalls, write, _exit) between fork and _exit.
int ckvm_seccomp_child_probe_arguments(const struct sock_filter *program, unsigned short count,
                                       long allowedSyscall, const long *allowedArguments,
                                       long forbiddenSyscall, const long *forbiddenArguments,
                                       int *reachedForbiddenCall, long *allowedResult) {
    *reachedForbiddenCall = 0;
    *allowedResult = 0;
    int fds[2];
    if (syscall(SYS_pipe2, fds, O_CLOEXEC) < 0) return -errno;
    pid_t child = fork();
    if (child < 0) {
        int error = errno;
        close(fds[0]);
        close(fds[1]);
        return -error;
    }
    if (child == 0) {
        close(fds[0]);
        struct rlimit noCore = { 0, 0 };  // a seccomp kill dumps core; keep test runs clean
        syscall(SYS_setrlimit, RLIMIT_CORE, &noCore);
        if (ckvm_install_seccomp(program, count) < 0) _exit(100);
        long result = syscall(allowedSyscall, allowedArguments[0], allowedArguments[1], allowedArguments[2],
                              allowedArguments[3], allowedArguments[4], allowedArguments[5]);
        if (result < 0) result = -errno;
        if (write(fds[1], &result, sizeof result) != (ssize_t)sizeof result) _exit(101);
        syscall(forbiddenSyscall, forbiddenArguments[0], forbiddenArguments[1], forbiddenArguments[2],
                forbiddenArguments[3], forbiddenArguments[4], forbiddenArguments[5]);
        _exit(0);
    }
    close(fds[1]);
    long result = 0;
    size_t received = 0;
    while (received < sizeof result) {
        ssize_t n = read(fds[0], (char *)&result + received, sizeof result - received);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        received += (size_t)n;
    }
    close(fds[0]);
    if (received == sizeof result) {
        *reachedForbiddenCall = 1;
        *allowedResult = result;
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) return -errno;
    }
    return status;
}

int ckvm_seccomp_child_probe(const struct sock_filter *program, unsigned short count, long allowedSyscall,
                             long forbiddenSyscall, int *reachedForbiddenCall) {
    char scratch[64];
    memset(scratch, 0, sizeof scratch);
    const long allowedArguments[6] = { 1, (long)scratch, 0, 0, 0, 0 };
    const long forbiddenArguments[6] = { 0, 0, 0, 0, 0, 0 };
    long allowedResult = 0;
    return ckvm_seccomp_child_probe_arguments(program, count, allowedSyscall, allowedArguments,
                                              forbiddenSyscall, forbiddenArguments, reachedForbiddenCall,
                                              &allowedResult);
}
