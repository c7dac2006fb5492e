// standin.cc: the project's stand-in for SQL Server on Linux's libsqlvdi.so. It exports the
// documented C++ interface (sqlvdi.h) so the product's client cannot tell it from the real
// library, and carries the protocol to the SQL Server simulator over Unix sockets instead of
// POSIX shared memory and semaphores.
//
// Transport (the stand-in's own business; the simulator's side is vdistandin's Go code, and
// the wire format is written down in ../wire.go):
//   - Create(name) listens on a Unix socket in $SQLSIM_VDI_DIR (default /tmp/sqlsim-vdi),
//     named after the set (SocketName in ../wire.go).
//   - For BACKUP … TO VIRTUAL_DEVICE / RESTORE … FROM VIRTUAL_DEVICE the simulator dials it
//     once per device and says hello (device name, index, count, block and transfer sizes);
//     the stand-in answers with the client's VDConfig.
//   - Then the simulator sends one command at a time per device and waits for its completion;
//     CLOSE ends a device normally, ABORT abnormally. The stand-in sends ABORT on SignalAbort.
//
// Semantics follow [VDI-linux]; where it is silent, the choices are marked "stand-in:".
#include "sqlvdi.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace {

// Frame types (../wire.go).
enum : uint32_t {
    kHello = 1,
    kCommand = 2,
    kClose = 3,
    kAbort = 4,
    kConfig = 5,
    kCompletion = 6,
};

// Every frame starts with this header, little-endian (the only byte order Linux x86-64 and
// arm64 use, so the fields are written as they lie in memory).
struct FrameHeader {
    uint32_t type;
    int32_t code;       // command code / completion code
    int32_t size;       // command size / bytes transferred
    uint32_t payload;   // bytes following the header
    int64_t position;
};
static_assert(sizeof(FrameHeader) == 24, "frame header is 24 bytes");

const uint32_t kMaxPayload = 64u << 20;  // bigger than any transfer SQL Server asks for

long long now_ms() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool read_full(int fd, void *p, size_t n) {
    uint8_t *b = (uint8_t *)p;
    while (n > 0) {
        ssize_t k = read(fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        b += k;
        n -= (size_t)k;
    }
    return true;
}

bool write_full(int fd, const void *p, size_t n) {
    const uint8_t *b = (const uint8_t *)p;
    while (n > 0) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        b += k;
        n -= (size_t)k;
    }
    return true;
}

// wait_readable polls fd and the set's abort pipe: 1 fd readable, 0 timeout, -1 aborted.
int wait_readable(int fd, int abortfd, long long deadline) {
    for (;;) {
        struct pollfd p[2] = {{abortfd, POLLIN, 0}, {fd, POLLIN, 0}};
        int t = -1;
        if (deadline >= 0) {
            long long left = deadline - now_ms();
            t = left < 0 ? 0 : (int)(left > 1 << 30 ? 1 << 30 : left);
        }
        int r = poll(p, 2, t);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (p[0].revents) return -1;
        if (p[1].revents) return 1;
        if (deadline >= 0 && now_ms() >= deadline) return 0;
    }
}

long long deadline_of(time_t timeout) { return timeout < 0 ? -1 : now_ms() + (long long)timeout; }

// socket_path is SocketName in ../wire.go: the set's name when it is short and plain, else a
// hash of it (a Unix socket path holds at most 107 bytes).
std::string socket_path(const std::string &dir, const std::string &name) {
    bool plain = !name.empty() && name.size() <= 64;
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) plain = false;
    }
    if (name == "." || name == "..") plain = false;
    if (plain) return dir + "/" + name + ".vdi";
    uint64_t h = 14695981039346656037ull;  // FNV-1a, 64 bits
    for (unsigned char c : name) {
        h ^= c;
        h *= 1099511628211ull;
    }
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    return dir + "/h-" + hex + ".vdi";
}

}  // namespace

// CVD is one device's state.
class CVD {
public:
    CVDS *set = nullptr;
    int fd = -1;
    std::string name;
    uint32_t index = 0;
    bool opened = false;       // OpenDevice handed it out
    bool closed = false;       // the server closed it (GetCommand returned VD_E_CLOSE)
    bool outstanding = false;  // a command was handed out and not completed
    VDC_Command cmd{};
    std::vector<uint8_t> buf;  // the commands' buffer, owned here (stand-in: one per device)
    std::mutex wmu;            // one writer at a time on fd (CompleteCommand vs SignalAbort)
    ClientVirtualDevice *obj = nullptr;
};

// CVDS is one set's state.
class CVDS {
public:
    std::string name, path;
    VDConfig cfg{};
    int lfd = -1;
    int abortr = -1, abortw = -1;  // a pipe: one byte written on abort wakes every waiter
    std::atomic<bool> aborted{false};
    std::mutex mu;                 // guards devs and the flags below
    std::vector<CVD *> devs;       // in the order the server said hello
    bool configured = false;
    uint32_t blockSize = 0, maxTransferSize = 0;
};

static void send_abort(CVD *d) {
    std::lock_guard<std::mutex> g(d->wmu);
    FrameHeader h{kAbort, (int32_t)ERROR_OPERATION_ABORTED, 0, 0, 0};
    write_full(d->fd, &h, sizeof h);
    shutdown(d->fd, SHUT_RDWR);
}

static void abort_set(CVDS *s) {
    bool was = s->aborted.exchange(true);
    if (!was) {
        char b = 1;
        if (write(s->abortw, &b, 1) < 0) { /* the pipe is never full: one byte ever */ }
    }
    std::vector<CVD *> devs;
    {
        std::lock_guard<std::mutex> g(s->mu);
        devs = s->devs;
    }
    if (!was) {
        for (CVD *d : devs) send_abort(d);
    }
}

ClientVirtualDevice::ClientVirtualDevice() : cvd(nullptr) {}
ClientVirtualDevice::~ClientVirtualDevice() {}

ClientVirtualDeviceSet::ClientVirtualDeviceSet() : cvds(nullptr) {}
ClientVirtualDeviceSet::~ClientVirtualDeviceSet() {
    if (cvds) Close();
}

int ClientVirtualDeviceSet::Create(char *name, VDConfig *cfg) {
    if (cvds) return VD_E_PROTOCOL;  // [VDI-linux]: the set already exists
    if (!name || !cfg || !*name || strchr(name, '\\')) return VD_E_INVALID;
    // stand-in: only what a pipe-like client asks for; the real library accepts more.
    if (cfg->deviceCount < 1 || cfg->deviceCount > 64) return VD_E_NOTSUPPORTED;
    if ((cfg->features & ~(uint32_t)VDF_RequestComplete) != 0) return VD_E_NOTSUPPORTED;

    const char *dir = getenv("SQLSIM_VDI_DIR");
    std::string d = dir && *dir ? dir : "/tmp/sqlsim-vdi";
    mkdir(d.c_str(), 0770);
    std::string path = socket_path(d, name);
    struct sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return VD_E_NOTSUPPORTED;
    memcpy(addr.sun_path, path.c_str(), path.size() + 1);

    // A socket file of a live set means the name is taken ([VDI-linux]: VD_E_PROTOCOL); one
    // left by a process that died is removed.
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) return VD_E_MEMORY;
    if (connect(probe, (struct sockaddr *)&addr, sizeof addr) == 0) {
        close(probe);
        return VD_E_PROTOCOL;
    }
    close(probe);
    unlink(path.c_str());

    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0) return VD_E_MEMORY;
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 64) != 0) {
        int e = errno;
        close(lfd);
        return e == EACCES ? VD_E_SECURITY : VD_E_UNEXPECTED;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        close(lfd);
        unlink(path.c_str());
        return VD_E_MEMORY;
    }
    CVDS *s = new CVDS();
    s->name = name;
    s->path = path;
    s->cfg = *cfg;
    s->lfd = lfd;
    s->abortr = p[0];
    s->abortw = p[1];
    cvds = s;
    return 0;
}

// accept_one takes one connection and its hello, and answers with the client's VDConfig.
// Returns 0, or VD_E_* for a hello the stand-in cannot use (the connection is dropped).
static int accept_one(CVDS *s) {
    int fd = accept4(s->lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return 0;  // spurious wake-up; the caller polls again
    // The simulator sends its hello right after connecting; a peer that does not within 5 s
    // is not the simulator.
    if (wait_readable(fd, s->abortr, now_ms() + 5000) != 1) {
        close(fd);
        return s->aborted ? VD_E_ABORT : 0;
    }
    FrameHeader h;
    if (!read_full(fd, &h, sizeof h) || h.type != kHello || h.payload < 20 || h.payload > 4096) {
        close(fd);
        return 0;
    }
    std::vector<uint8_t> p(h.payload);
    if (!read_full(fd, p.data(), p.size())) {
        close(fd);
        return 0;
    }
    uint32_t f[5];
    memcpy(f, p.data(), sizeof f);  // index, count, blockSize, maxTransferSize, name length
    if (20 + (size_t)f[4] != p.size()) {
        close(fd);
        return 0;
    }
    CVD *d = new CVD();
    d->set = s;
    d->fd = fd;
    d->index = f[0];
    d->name.assign((const char *)p.data() + 20, f[4]);
    FrameHeader r{kConfig, 0, 0, (uint32_t)sizeof(VDConfig), 0};
    {
        std::lock_guard<std::mutex> g(d->wmu);
        if (!write_full(fd, &r, sizeof r) || !write_full(fd, &s->cfg, sizeof s->cfg)) {
            close(fd);
            delete d;
            return 0;
        }
    }
    std::lock_guard<std::mutex> g(s->mu);
    s->blockSize = f[2];
    s->maxTransferSize = f[3];
    s->devs.push_back(d);
    return 0;
}

int ClientVirtualDeviceSet::GetConfiguration(time_t timeout, VDConfig *cfg) {
    CVDS *s = cvds;
    if (!s) return VD_E_PROTOCOL;
    long long deadline = deadline_of(timeout);
    for (;;) {
        if (s->aborted) return VD_E_ABORT;
        std::vector<struct pollfd> p;
        {
            std::lock_guard<std::mutex> g(s->mu);
            if (s->configured || s->devs.size() >= s->cfg.deviceCount) {
                s->configured = true;
                if (cfg) {
                    *cfg = s->cfg;
                    // stand-in: SQL Server's choice of sizes is the statement's (BLOCKSIZE,
                    // MAXTRANSFERSIZE); it reports them here.
                    cfg->blockSize = s->blockSize;
                    cfg->maxTransferSize = s->maxTransferSize;
                }
                return 0;
            }
            p.push_back({s->abortr, POLLIN, 0});
            p.push_back({s->lfd, POLLIN, 0});
            // A server that gives up before every device arrived (a device count that does
            // not match the statement) closes the ones it opened: that is an abort.
            for (CVD *d : s->devs) p.push_back({d->fd, POLLIN, 0});
        }
        int t = -1;
        bool last = false;  // the deadline passed: one more look, then VD_E_TIMEOUT
        if (deadline >= 0) {
            long long left = deadline - now_ms();
            last = left <= 0;
            t = last ? 0 : (left > 1 << 30 ? 1 << 30 : (int)left);
        }
        int r = poll(p.data(), p.size(), t);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return VD_E_UNEXPECTED;
        if (r == 0) {
            if (last) return VD_E_TIMEOUT;
            continue;
        }
        if (p[0].revents) return VD_E_ABORT;
        for (size_t i = 2; i < p.size(); i++) {
            if (p[i].revents) {
                abort_set(s);
                return VD_E_ABORT;
            }
        }
        if (p[1].revents) {
            int e = accept_one(s);
            if (e) return e;
        }
    }
}

int ClientVirtualDeviceSet::OpenDevice(char *name, ClientVirtualDevice **pp) {
    if (pp) *pp = nullptr;
    CVDS *s = cvds;
    if (!s) return VD_E_PROTOCOL;
    if (s->aborted) return VD_E_ABORT;
    if (!name || !pp) return VD_E_INVALID;
    std::lock_guard<std::mutex> g(s->mu);
    if (!s->configured) return VD_E_PROTOCOL;  // [VDI-linux]: not in the initializing state
    size_t open = 0;
    for (CVD *d : s->devs) open += d->opened;
    if (open == s->devs.size()) return VD_E_OPEN;
    for (CVD *d : s->devs) {
        if (d->name != name) continue;
        if (d->opened) return VD_E_PROTOCOL;  // this device is already open
        d->opened = true;
        d->obj = new ClientVirtualDevice();
        d->obj->cvd = d;
        size_t n = s->maxTransferSize > 65536 ? s->maxTransferSize : 65536;
        d->buf.resize(n);
        *pp = d->obj;
        return 0;
    }
    return VD_E_INVALID;  // not one of the set's names
}

int ClientVirtualDevice::GetCommand(time_t timeout, VDC_Command **ppCmd) {
    if (ppCmd) *ppCmd = nullptr;
    CVD *d = cvd;
    if (!d || !ppCmd) return VD_E_INVALID;
    CVDS *s = d->set;
    if (s->aborted) return VD_E_ABORT;
    if (d->closed) return VD_E_CLOSE;
    int w = wait_readable(d->fd, s->abortr, deadline_of(timeout));
    if (w < 0) return VD_E_ABORT;
    if (w == 0) return VD_E_TIMEOUT;
    FrameHeader h;
    if (!read_full(d->fd, &h, sizeof h)) {
        // The server went away without closing the device: its statement ended abnormally.
        if (!s->aborted) abort_set(s);
        return VD_E_ABORT;
    }
    switch (h.type) {
    case kClose:
        d->closed = true;
        return VD_E_CLOSE;
    case kCommand:
        break;
    default:  // kAbort, or anything else: the server ended the set
        abort_set(s);
        return VD_E_ABORT;
    }
    if (h.size < 0 || (uint32_t)h.size > kMaxPayload || h.payload > (uint32_t)h.size) {
        abort_set(s);
        return VD_E_PROTOCOL;
    }
    if (d->buf.size() < (size_t)h.size) d->buf.resize(h.size);
    if (h.payload > 0 && !read_full(d->fd, d->buf.data(), h.payload)) {
        abort_set(s);
        return VD_E_ABORT;
    }
    d->cmd.commandCode = h.code;
    d->cmd.size = h.size;
    d->cmd.position = h.position;
    d->cmd.buffer = h.size > 0 ? d->buf.data() : nullptr;
    d->outstanding = true;
    *ppCmd = &d->cmd;
    return 0;
}

int ClientVirtualDevice::CompleteCommand(VDC_Command *pCmd, int completionCode, unsigned long bytesTransferred, int64_t position) {
    CVD *d = cvd;
    if (!d) return VD_E_PROTOCOL;
    CVDS *s = d->set;
    if (s->aborted) return VD_E_ABORT;
    if (d->closed) return VD_E_PROTOCOL;  // [VDI-linux]: the device is not open
    if (pCmd != &d->cmd || !d->outstanding) return VD_E_INVALID;
    if (bytesTransferred > (unsigned long)d->cmd.size) return VD_E_INVALID;
    // The data a VDC_Read filled goes back with the completion; a VDC_Write's was taken.
    uint32_t payload = d->cmd.commandCode == VDC_Read ? (uint32_t)bytesTransferred : 0;
    FrameHeader h{kCompletion, completionCode, (int32_t)bytesTransferred, payload, position};
    d->outstanding = false;
    std::lock_guard<std::mutex> g(d->wmu);
    if (s->aborted) return VD_E_ABORT;
    if (!write_full(d->fd, &h, sizeof h) || (payload && !write_full(d->fd, d->buf.data(), payload))) {
        return VD_E_ABORT;  // the server is gone
    }
    return 0;
}

int ClientVirtualDeviceSet::SignalAbort() {
    CVDS *s = cvds;
    if (!s) return VD_E_PROTOCOL;
    abort_set(s);
    return 0;
}

int ClientVirtualDeviceSet::Close() {
    CVDS *s = cvds;
    if (!s) return VD_E_PROTOCOL;  // [VDI-linux]: the set was not open
    int rc = 0;
    if (!s->aborted) {
        bool open = false;
        {
            std::lock_guard<std::mutex> g(s->mu);
            if (s->configured) {
                for (CVD *d : s->devs) open = open || !d->closed;
            }
        }
        if (open) {
            // [VDI-linux] Close: devices still open → VD_E_OPEN, and SignalAbort internally.
            abort_set(s);
            rc = VD_E_OPEN;
        }
    }
    cvds = nullptr;
    close(s->lfd);
    unlink(s->path.c_str());
    for (CVD *d : s->devs) {
        close(d->fd);
        if (d->obj) {
            d->obj->cvd = nullptr;  // the device interfaces are invalid after Close
            delete d->obj;
        }
        delete d;
    }
    close(s->abortr);
    close(s->abortw);
    delete s;
    return rc;
}

// Multi-process clients are not part of what the product uses: the stand-in refuses them.
int ClientVirtualDeviceSet::OpenInSecondary(char *) { return VD_E_NOTSUPPORTED; }
int ClientVirtualDeviceSet::GetBufferHandle(uint8_t *, unsigned int *) { return VD_E_NOTSUPPORTED; }
int ClientVirtualDeviceSet::MapBufferHandle(int, uint8_t **) { return VD_E_NOTSUPPORTED; }
void ClientVirtualDeviceSet::RegisterDeviceClosed() {}
