"""What walls a job in: its namespaces, its scratch tmpfs, no capabilities, its limits;
and the only way trusted code opens a file that a job could have written.

Runs inside the sandbox (standard library and ctypes only) and in the trusted parent
(`read_untrusted`, `remove_tree`). Linux only; importable anywhere.
"""

import ctypes
import os
import resource
import stat
import struct

from . import seccomp

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                       ctypes.c_ulong]

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 1 << 14, 1 << 18
MNT_DETACH = 2
FSCONFIG_SET_STRING, FSCONFIG_CMD_CREATE = 1, 6
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV = 0x1, 0x2, 0x4
MOVE_MOUNT_F_EMPTY_PATH, AT_RECURSIVE, AT_FDCWD = 0x4, 0x8000, -100
RESOLVE_NO_XDEV, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_BENEATH = 1, 2, 4, 8
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECUREBITS = 4, 24, 28
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_SET_CHILD_SUBREAPER = 47, 4, 36
SECURE_ALL_LOCKED = 0xEF   # noroot, no_setuid_fixup, keep_caps off, no ambient raise: locked


def _failed(what):
    error = ctypes.get_errno()
    return OSError(error, f"{what}: {os.strerror(error)}")


def syscall(name, *args):
    values = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    result = libc.syscall(ctypes.c_long(seccomp.NR[name]), *values)
    if result < 0:
        raise _failed(name)
    return result


def mount(source, target, fstype, flags, data=None):
    def c(text):
        return text.encode() if isinstance(text, str) else text
    if libc.mount(c(source), c(target), c(fstype), ctypes.c_ulong(flags), c(data)) != 0:
        raise _failed(f"mount {target}")


def prctl(option, argument):
    if libc.prctl(option, argument, 0, 0, 0) != 0:
        raise _failed(f"prctl({option})")


def set_not_dumpable():
    """No /proc/<pid>/{fd,mem,environ,cwd} and no ptrace for processes of the same uid."""
    prctl(PR_SET_DUMPABLE, 0)


def become_subreaper():
    """Adopt the jobs' orphans instead of letting them go to init."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def new_tmpfs(size_bytes, inodes):
    """A fresh tmpfs, not attached anywhere: an fd. The tmpfs vanishes with its last fd."""
    fs = syscall("fsopen", b"tmpfs", 1)                      # FSOPEN_CLOEXEC
    try:
        for key, value in (("size", size_bytes), ("nr_inodes", inodes), ("mode", "0755")):
            syscall("fsconfig", fs, FSCONFIG_SET_STRING, key.encode(), str(value).encode(), 0)
        syscall("fsconfig", fs, FSCONFIG_CMD_CREATE, None, None, 0)
        return syscall("fsmount", fs, 1, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
    finally:
        os.close(fs)


def enter_job_namespaces(tmpfs_fd, scratch):
    """In pid 1 of the job's fresh pid namespace, with CAP_SYS_ADMIN of bubblewrap's user
    namespace still held: a private mount, IPC and UTS namespace; every mount read-only;
    /exchange detached; a /proc of this job's processes only; the job's tmpfs at `scratch`
    and a fresh /dev/shm."""
    if libc.unshare(seccomp.CLONE_NEWNS | seccomp.CLONE_NEWIPC | seccomp.CLONE_NEWUTS) != 0:
        raise _failed("unshare")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    attributes = struct.pack("=QQQQ", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
    syscall("mount_setattr", AT_FDCWD, b"/", AT_RECURSIVE, attributes, len(attributes))
    if libc.umount2(b"/exchange", MNT_DETACH) != 0 and os.path.exists("/exchange/."):
        raise _failed("umount /exchange")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    syscall("move_mount", tmpfs_fd, b"", AT_FDCWD, scratch.encode(), MOVE_MOUNT_F_EMPTY_PATH)
    if os.path.isdir("/dev/shm"):
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_capabilities():
    """Lock the securebits, clear the ambient and bounding sets, then hold nothing."""
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        last = int(handle.read())
    libc.prctl(PR_SET_SECUREBITS, SECURE_ALL_LOCKED, 0, 0, 0)   # refused without SETPCAP
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    empty_bounding_set(last)
    if libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), (_CapData * 2)()) != 0:
        raise _failed("capset")


def empty_bounding_set(last=None):
    """Drop every capability from the bounding set (a no-op without CAP_SETPCAP)."""
    if last is None:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            last = int(handle.read())
    for capability in range(last + 1):
        libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)


def set_limits(limits, processes=True):
    """The job's rlimits. RLIMIT_NPROC counts per uid: only where the uid is the job's."""
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb,) * 2)
    cpu = int(limits["cpu_seconds"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    if processes:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"],) * 2)


def status(*keys):
    """Fields of /proc/self/status, as the kernel reports them."""
    with open("/proc/self/status") as handle:
        fields = dict(line.rstrip("\n").split(":\t", 1) for line in handle if ":\t" in line)
    return {key: fields.get(key, "").strip() for key in keys}


# -- reading what a job may have written ------------------------------------------------


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


def open_beneath(dirfd, name, flags):
    """Open `name` under `dirfd` only: no '..' out, no symbolic link anywhere, no other
    mount. openat2 (Linux 5.6); without it, a single name opened with O_NOFOLLOW."""
    flags |= os.O_CLOEXEC | os.O_NOFOLLOW
    if "openat2" in seccomp.NR:
        how = _OpenHow(flags, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
                       | RESOLVE_NO_XDEV)
        try:
            return syscall("openat2", dirfd, name.encode(), ctypes.byref(how),
                           ctypes.sizeof(how))
        except OSError as error:
            if error.errno != 38:            # ENOSYS: an older kernel
                raise
    if "/" in name or name in (".", ".."):
        raise OSError(22, f"not a plain name: {name!r}")
    return os.open(name, flags, dir_fd=dirfd)


def read_untrusted(dirfd, name, cap):
    """(bytes, cut) of a job-writable file, or None: no link followed, never blocking,
    a regular file with one link only (no FIFO, socket, device, folder or hard link),
    at most `cap` bytes read. The only way trusted code reads such a file."""
    try:
        fd = open_beneath(dirfd, name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            return None
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, min(cap + 1 - size, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
        return data[:cap], len(data) > cap
    except OSError:
        return None
    finally:
        os.close(fd)


def remove_tree(path):
    """Remove a folder a job may have written, without recursion and without following a
    link: a tree 1,500 folders deep cannot overflow the stack, a link cannot lead out."""
    parent = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        _remove_under(parent, os.path.basename(path))
    finally:
        os.close(parent)


def _remove_under(parent_fd, name):
    try:
        top = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
    except NotADirectoryError:
        os.unlink(name, dir_fd=parent_fd)
        return
    except FileNotFoundError:
        return
    stack, names = [top], [name]
    try:
        while stack:
            deeper = None
            with os.scandir(stack[-1]) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        deeper = entry.name
                        break
                    os.unlink(entry.name, dir_fd=stack[-1])
            if deeper is not None:
                stack.append(os.open(deeper, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                                     dir_fd=stack[-1]))
                names.append(deeper)
                continue
            os.close(stack.pop())
            os.rmdir(names.pop(), dir_fd=stack[-1] if stack else parent_fd)
    finally:
        for fd in stack:
            os.close(fd)
