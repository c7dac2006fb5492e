// sqlvdi.h: the C++ interface of SQL Server on Linux's VDI client library, libsqlvdi.so, as
// the project's stand-in implements it (internal/sqlsim/vdistandin). Written for this
// project from the published declarations; no text is taken from Microsoft's files.
//
// Sources (internal/sqlsim/FIDELITY.md, section "VDI (issue 14)"):
//   [VDI-linux] "SQL Server on Linux VDI client SDK specification" (MicrosoftDocs/sql-docs,
//               docs/linux/sql-server-linux-backup-vdi-specification.md): the two classes,
//               each method's parameters and return codes, timeouts in milliseconds (negative:
//               no limit).
//   [vdi.h]     Microsoft's Linux sample (sql-server-samples, samples/features/sqlvdi-linux:
//               vdi.h, vdierror.h, vdipipesample.cpp): the exact C++ types of each parameter
//               (time_t timeouts, char* names, unsigned long bytesTransferred, int64_t
//               position), the structs' fields and packing, that both classes are plain
//               (non-virtual) classes built with their public default constructors — the
//               sample does `new ClientVirtualDeviceSet()` — each holding one private pointer.
//
// The exported symbols are the Itanium-ABI mangled names of the non-virtual member functions
// declared below, e.g. _ZN22ClientVirtualDeviceSet6CreateEPcP8VDConfig. [vdi.h] wraps its
// declarations in extern "C", which by the C++ standard does not apply to class members, so
// the names are the same either way. The product's client (internal/agent/vdi/linuxvdi)
// resolves exactly these names with dlsym.
#ifndef SQLVAULT_SQLVDI_H
#define SQLVAULT_SQLVDI_H

#include <stdint.h>
#include <time.h>

// Completion codes a client passes to CompleteCommand (Win32 values; [vdi.h]).
#define ERROR_SUCCESS 0L
#define ERROR_HANDLE_EOF 38L
#define ERROR_NOT_SUPPORTED 50L
#define ERROR_DISK_FULL 112L
#define ERROR_OPERATION_ABORTED 995L

// Return codes: HRESULTs of facility 0x77 ([vdi.h] vdierror.h), returned as int.
#define VD_HR(code) ((int)(0x80770000u | (unsigned)(code)))
#define VD_E_NOTOPEN VD_HR(2)
#define VD_E_TIMEOUT VD_HR(3)
#define VD_E_ABORT VD_HR(4)
#define VD_E_SECURITY VD_HR(5)
#define VD_E_INVALID VD_HR(6)
#define VD_E_INSTANCE_NAME VD_HR(7)
#define VD_E_NOTSUPPORTED VD_HR(9)
#define VD_E_MEMORY VD_HR(10)
#define VD_E_UNEXPECTED VD_HR(11)
#define VD_E_PROTOCOL VD_HR(12)
#define VD_E_OPEN VD_HR(13)
#define VD_E_CLOSE VD_HR(14)
#define VD_E_BUSY VD_HR(15)

// Feature bits the stand-in accepts ([vdi.h] VDFeatures).
#define VDF_LikePipe 0
#define VDF_RequestComplete 0x2000

// Command codes ([vdi.h] VDCommands: VDC_Read = 1, each next one + 1).
#define VDC_Read 1
#define VDC_Write 2
#define VDC_ClearError 3
#define VDC_Flush 12
#define VDC_Complete 19

#pragma pack(push, 8)
// The set's configuration: eleven 32-bit fields in this order ([vdi.h]).
struct VDConfig {
    uint32_t deviceCount;
    uint32_t features;
    uint32_t prefixZoneSize;
    uint32_t alignment;
    uint32_t softFileMarkBlockSize;
    uint32_t EOMWarningSize;
    uint32_t serverTimeOut;
    uint32_t blockSize;
    uint32_t maxIODepth;
    uint32_t maxTransferSize;
    uint32_t bufferAreaSize;
};

// One command as GetCommand hands it out ([vdi.h]): 24 bytes on LP64.
struct VDC_Command {
    int32_t commandCode;
    int32_t size;
    int64_t position;
    uint8_t *buffer;
};
#pragma pack(pop)

class CVD;   // the library's private device state
class CVDS;  // the library's private set state
class ClientVirtualDeviceSet;

// One virtual device of a set; the set's OpenDevice hands it out ([VDI-linux]).
class ClientVirtualDevice {
public:
    ClientVirtualDevice();
    ~ClientVirtualDevice();
    int GetCommand(time_t timeOut, VDC_Command **ppCmd);
    int CompleteCommand(VDC_Command *pCmd, int completionCode, unsigned long bytesTransferred, int64_t position);

private:
    CVD *cvd;
    friend class ClientVirtualDeviceSet;
};

// The virtual device set of one BACKUP or RESTORE ([VDI-linux]).
class ClientVirtualDeviceSet {
public:
    int Create(char *name, VDConfig *cfg);
    int GetConfiguration(time_t timeout, VDConfig *cfg);
    int OpenDevice(char *name, ClientVirtualDevice **ppVirtualDevice);
    int Close();
    int SignalAbort();
    int OpenInSecondary(char *setName);
    int GetBufferHandle(uint8_t *pBuffer, unsigned int *pBufferHandle);
    int MapBufferHandle(int dwBuffer, uint8_t **ppBuffer);
    void RegisterDeviceClosed();
    ClientVirtualDeviceSet();
    ~ClientVirtualDeviceSet();

private:
    CVDS *cvds;
};

#endif
