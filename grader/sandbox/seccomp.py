"""The seccomp filter every sandbox job runs under: a deny-list, assembled here as BPF.

Runs inside the sandbox: standard library and ctypes only. What it denies (EPERM):
namespaces (unshare, setns, clone or clone3 with a CLONE_NEW* flag), mounts (mount,
umount2, pivot_root, chroot, the new mount API), file handles (name_to_handle_at,
open_by_handle_at), tracing (ptrace, process_vm_readv/writev, kcmp, pidfd_getfd,
perf_event_open), bpf, the kernel keyring (keyctl, add_key, request_key), kexec and
modules, userfaultfd, io_uring, swap, reboot, acct, quotactl, syslog, iopl/ioperm, and
every x32 call on x86_64. clone3 answers ENOSYS (its flags live in memory a filter
cannot read), so the C library falls back to clone, whose flags are checked. A call of
another architecture kills the process.

`protect_pid` (the fallback without namespaces, where the job shares its uid with the
zygote): kill, tkill, tgkill, pidfd_open and pidfd_send_signal aimed at the zygote's
pid, its process group or -1 are refused as well.
"""

import ctypes
import errno
import platform
import struct

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x20000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWTIME = (
    0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x80)
CLONE_NEW_ANY = (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER
                 | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME)

ARCH = platform.machine()
if ARCH == "x86_64":
    AUDIT_ARCH = 0xC000003E
    NR = dict(unshare=272, setns=308, mount=165, umount2=166, pivot_root=155, chroot=161,
              open_by_handle_at=304, name_to_handle_at=303, ptrace=101, process_vm_readv=310,
              process_vm_writev=311, bpf=321, keyctl=250, add_key=248, request_key=249,
              perf_event_open=298, kexec_load=246, kexec_file_load=320, init_module=175,
              finit_module=313, delete_module=176, userfaultfd=323, swapon=167, swapoff=168,
              reboot=169, acct=163, quotactl=179, syslog=103, iopl=172, ioperm=173, kcmp=312,
              lookup_dcookie=212, clone=56, kill=62, tkill=200, tgkill=234, exit=60)
elif ARCH == "aarch64":
    AUDIT_ARCH = 0xC00000B7
    NR = dict(unshare=97, setns=268, mount=40, umount2=39, pivot_root=41, chroot=51,
              open_by_handle_at=265, name_to_handle_at=264, ptrace=117, process_vm_readv=270,
              process_vm_writev=271, bpf=280, keyctl=219, add_key=217, request_key=218,
              perf_event_open=241, kexec_load=104, kexec_file_load=294, init_module=105,
              finit_module=273, delete_module=106, userfaultfd=282, swapon=224, swapoff=225,
              reboot=142, acct=89, quotactl=60, syslog=116, kcmp=272, lookup_dcookie=18,
              clone=220, kill=129, tkill=130, tgkill=131, exit=93)
else:           # importable anywhere (in-process grading); `program` refuses to build
    AUDIT_ARCH, NR = None, {}
if NR:          # the calls numbered alike on every architecture since Linux 5.x
    NR.update(open_tree=428, move_mount=429, fsopen=430, fsconfig=431, fsmount=432,
              fspick=433, mount_setattr=442, pidfd_getfd=438, io_uring_setup=425,
              io_uring_enter=426, io_uring_register=427, clone3=435, openat2=437,
              pidfd_open=434, pidfd_send_signal=424, open_tree_attr=467)

DENIED = ("unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_by_handle_at",
          "name_to_handle_at", "ptrace", "process_vm_readv", "process_vm_writev", "bpf",
          "keyctl", "add_key", "request_key", "perf_event_open", "kexec_load",
          "kexec_file_load", "init_module", "finit_module", "delete_module", "userfaultfd",
          "swapon", "swapoff", "reboot", "acct", "quotactl", "syslog", "kcmp", "lookup_dcookie",
          "open_tree", "open_tree_attr", "move_mount", "fsopen", "fsconfig", "fsmount",
          "fspick", "mount_setattr", "pidfd_getfd", "io_uring_setup", "io_uring_enter",
          "io_uring_register") + (("iopl", "ioperm") if ARCH == "x86_64" else ())
SIGNALLING = ("kill", "tkill", "tgkill", "pidfd_open", "pidfd_send_signal")

# struct sock_filter opcodes, seccomp return values, offsets in struct seccomp_data
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
ALLOW, KILL_PROCESS, ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
OFF_NR, OFF_ARCH, OFF_ARG0 = 0, 4, 16          # arg0's low word (little-endian)
X32_SYSCALL_BIT = 0x40000000


def assemble(program):
    """[(code, jump if true, jump if false, k) | "label"] → packed sock_filter bytes.

    Jumps name a label (or are 0: the next instruction); BPF jumps only forward.
    """
    labels, index = {}, 0
    for item in program:
        if isinstance(item, str):
            labels[item] = index
        else:
            index += 1
    out, index = [], 0
    for item in program:
        if isinstance(item, str):
            continue
        code, jt, jf, k = item
        offsets = [0 if target == 0 else labels[target] - index - 1 for target in (jt, jf)]
        if not all(0 <= offset <= 255 for offset in offsets):
            raise ValueError(f"jump out of range at instruction {index}")
        out.append(struct.pack("=HBBI", code, offsets[0], offsets[1], k & 0xFFFFFFFF))
        index += 1
    return b"".join(out)


def program(protect_pid=None):
    """The filter as BPF bytes (see the module's docstring)."""
    if not NR:
        raise OSError(f"no seccomp filter for the {ARCH} architecture")
    p = [(LD_W_ABS, 0, 0, OFF_ARCH),
         (JEQ_K, 0, "kill", AUDIT_ARCH),
         (LD_W_ABS, 0, 0, OFF_NR)]
    if ARCH == "x86_64":
        p.append((JGE_K, "eperm", 0, X32_SYSCALL_BIT))
    p += [(JEQ_K, "enosys", 0, NR["clone3"]),
          (JEQ_K, "clone", 0, NR["clone"])]
    p += [(JEQ_K, "eperm", 0, NR[name]) for name in DENIED]
    if protect_pid is not None:
        p += [(JEQ_K, "signal", 0, NR[name]) for name in SIGNALLING]
    p.append((RET_K, 0, 0, ALLOW))
    p += ["clone", (LD_W_ABS, 0, 0, OFF_ARG0),
          (JSET_K, "eperm", 0, CLONE_NEW_ANY),
          (RET_K, 0, 0, ALLOW)]
    if protect_pid is not None:
        p += ["signal", (LD_W_ABS, 0, 0, OFF_ARG0),
              (JEQ_K, "eperm", 0, protect_pid),
              (JEQ_K, "eperm", 0, -protect_pid),
              (JEQ_K, "eperm", 0, -1),
              (RET_K, 0, 0, ALLOW)]
    p += ["eperm", (RET_K, 0, 0, ERRNO | errno.EPERM),
          "enosys", (RET_K, 0, 0, ERRNO | errno.ENOSYS),
          "kill", (RET_K, 0, 0, KILL_PROCESS)]
    return assemble(p)


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


def install(bpf):
    """no_new_privs, then the filter, for this thread and everything it starts."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                           ctypes.c_ulong]
    count = len(bpf) // 8
    instructions = (_Filter * count).from_buffer_copy(bpf)
    fprog = _Program(count, instructions)
    for option, argument in ((PR_SET_NO_NEW_PRIVS, 1),
                             (PR_SET_SECCOMP, SECCOMP_MODE_FILTER)):
        extra = ctypes.addressof(fprog) if option == PR_SET_SECCOMP else 0
        if libc.prctl(option, argument, extra, 0, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"prctl({option}): {errno.errorcode.get(error, error)}")
