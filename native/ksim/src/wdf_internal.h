/* SPDX-License-Identifier: MIT
 *
 * ksim KMDF internals: the framework objects behind the WDF handles. A handle is the
 * address of the object's KSIM_WDF_OBJECT header; every API validates it (type, deleted)
 * and reports misuse as a verifier failure, as KMDF's verifier does.
 */
#ifndef KSIM_WDF_INTERNAL_H
#define KSIM_WDF_INTERNAL_H

#include "ksim_internal.h"

typedef enum _KSIM_WDF_TYPE {
    KsimWdfTypeDriver = 1,
    KsimWdfTypeDevice,
    KsimWdfTypeQueue,
    KsimWdfTypeRequest,
    KsimWdfTypeFile,
} KSIM_WDF_TYPE;

typedef struct _KSIM_WDF_OBJECT KSIM_WDF_OBJECT;
typedef void KSIM_WDF_TYPE_CALLBACK(KSIM_WDF_OBJECT *Object);

struct _KSIM_WDF_OBJECT {
    uint64_t Magic;
    KSIM_WDF_TYPE Type;
    volatile LONG References;   /* creation reference + WdfObjectReference + framework holds */
    BOOLEAN Deleting;           /* deletion started: children and cleanup callbacks ran or run */
    BOOLEAN DriverMayDelete;    /* WdfObjectDelete is allowed on it */
    KSIM_WDF_OBJECT *Parent;
    LIST_ENTRY Children;
    LIST_ENTRY SiblingLink;
    PFN_WDF_OBJECT_CONTEXT_CLEANUP EvtCleanupCallback;
    PFN_WDF_OBJECT_CONTEXT_DESTROY EvtDestroyCallback;
    PCWDF_OBJECT_CONTEXT_TYPE_INFO ContextType;
    PVOID Context;
    KSIM_WDF_TYPE_CALLBACK *FrameworkCleanup; /* the framework's part of the deletion */
    KSIM_WDF_TYPE_CALLBACK *FrameworkDestroy; /* frees what the object owns, at the last reference */
};

typedef struct _KSIM_WDF_DRIVER {
    KSIM_WDF_OBJECT Header;
    PDRIVER_OBJECT WdmDriver;
    WDF_DRIVER_CONFIG Config;
} KSIM_WDF_DRIVER;

typedef struct _KSIM_WDF_QUEUE KSIM_WDF_QUEUE;

struct _KSIM_WDF_DEVICE {
    KSIM_WDF_OBJECT Header;
    DEVICE_OBJECT Wdm;
    UNICODE_STRING Name;
    UNICODE_STRING Sddl;
    BOOLEAN Exclusive;
    BOOLEAN Initialized; /* WdfControlFinishInitializing */
    WDF_DEVICE_IO_TYPE IoType;
    BOOLEAN HasFileConfig;
    BOOLEAN HasFileAttributes;
    WDF_FILEOBJECT_CONFIG FileConfig;
    WDF_OBJECT_ATTRIBUTES FileAttributes;
    KSIM_WDF_QUEUE *DefaultQueue;
    LIST_ENTRY Queues;
    LIST_ENTRY Link;
    ULONG OpenFiles;
};

struct _KSIM_WDF_QUEUE {
    KSIM_WDF_OBJECT Header;
    KSIM_WDF_DEVICE *Device;
    WDF_IO_QUEUE_CONFIG Config;
    LIST_ENTRY Requests;
    ULONG Queued;
    LIST_ENTRY DeviceLink;
};

typedef enum _KSIM_REQUEST_STATE {
    KsimRequestDriverOwned = 1, /* presented or retrieved: the driver must complete it */
    KsimRequestQueued,          /* in a queue: the framework owns it */
    KsimRequestCompleted,
} KSIM_REQUEST_STATE;

typedef struct _KSIM_WDF_REQUEST {
    KSIM_WDF_OBJECT Header;
    KSIM_WDF_DEVICE *Device;
    KSIM_WDF_FILE *File;
    WDF_REQUEST_TYPE Type;
    ULONG IoControlCode;
    size_t InputLength;
    size_t OutputLength;
    PUCHAR InputBuffer;  /* the system buffer (METHOD_BUFFERED: max(in, out) bytes, else the input) */
    size_t InputBufferBytes; /* its size, for KsimHostBlockFree */
    PUCHAR OutputBuffer; /* METHOD_BUFFERED: the same buffer; METHOD_xx_DIRECT: the caller's buffer */
    BOOLEAN OutputOwned; /* METHOD_xx_DIRECT from KsimDeviceIoControl: ksim plays the caller's buffer */
    PUCHAR CallerOutput; /* METHOD_BUFFERED from KsimDeviceIoControlEx: copied back here at completion */
    PMDL OutputMdl;      /* METHOD_xx_DIRECT with an output: the I/O manager's locked MDL (Irp->MdlAddress) */
    PMDL SystemBufferMdl; /* WdfRequestRetrieveOutputWdmMdl on a METHOD_BUFFERED request */
    ULONG_PTR Information;
    NTSTATUS Status;
    KSIM_REQUEST_STATE State;
    KSIM_WDF_QUEUE *Queue;
    LIST_ENTRY QueueLink;
    LIST_ENTRY FileLink;
    BOOLEAN Canceled;
    BOOLEAN CancelRoutineCalled;
    BOOLEAN Orphaned; /* given up by KsimClose after its timeout: the host was already answered */
    PFN_WDF_REQUEST_CANCEL CancelRoutine;
    KSIM_COMPLETION_CALLBACK *Callback;
    void *CallbackContext;
    volatile LONG CreateDone;
} KSIM_WDF_REQUEST;

#define KSIM_FILE_MAGIC 0x656C69466D69536BULL

struct _KSIM_WDF_FILE {
    KSIM_WDF_OBJECT Header;
    KSIM_WDF_DEVICE *Device;
    FILE_OBJECT Wdm;
    LIST_ENTRY Requests;       /* requests not yet completed */
    volatile LONG Outstanding; /* requests whose completion callback has not yet returned */
    BOOLEAN Open;              /* create succeeded, not yet closed */
    BOOLEAN Closing;
};

/* One lock for all framework state (object trees, queues, request states). Never held
 * while calling the driver or the host. */
void KsimFxLock(void);
void KsimFxUnlock(void);

/* Objects */
NTSTATUS KsimWdfObjectCreate(KSIM_WDF_TYPE Type, size_t Size, PWDF_OBJECT_ATTRIBUTES Attributes,
                             KSIM_WDF_OBJECT *Parent, const char *Routine, KSIM_WDF_OBJECT **Object);
KSIM_WDF_OBJECT *KsimWdfObjectFromHandle(WDFOBJECT Handle, KSIM_WDF_TYPE Type, const char *Routine);
void KsimWdfObjectDelete(KSIM_WDF_OBJECT *Object);
void KsimWdfObjectReference(KSIM_WDF_OBJECT *Object);
void KsimWdfObjectDereference(KSIM_WDF_OBJECT *Object);
const char *KsimWdfTypeName(KSIM_WDF_TYPE Type);

#define KSIM_WDF_HANDLE(Object) ((WDFOBJECT) & (Object)->Header)

/* Driver and devices (wdf_device.c) */
KSIM_WDF_DRIVER *KsimWdfCurrentDriver(void);

/* Queues and requests (wdf_request.c) */
KSIM_WDF_REQUEST *KsimWdfRequestCreate(KSIM_WDF_DEVICE *Device, KSIM_WDF_FILE *File, WDF_REQUEST_TYPE Type);
/* Presents a request to a queue: into the list of a manual queue, to the callback of a
 * parallel one (in the calling thread). The request must be driver- or framework-owned. */
void KsimWdfQueueDispatch(KSIM_WDF_QUEUE *Queue, KSIM_WDF_REQUEST *Request);
/* Completion by the framework (not the driver): no ownership checks. */
void KsimWdfRequestCompleteByFramework(KSIM_WDF_REQUEST *Request, NTSTATUS Status);
/* Cancels a request (IoCancelIrp on its IRP): queued ones leave their queue. The caller
 * holds a reference. */
void KsimWdfRequestCancel(KSIM_WDF_REQUEST *Request);
/* Requests created by the I/O manager and not yet completed by anyone. */
uint64_t KsimWdfRequestsLive(void);
/* KsimClose gave up on the request (FxLock held): the host is answered, the driver's late
 * completion will be dropped. */
void KsimWdfRequestOrphan(KSIM_WDF_REQUEST *Request);
/* Cancels the requests of File still in any queue of its device (the cleanup flush). */
void KsimWdfFlushQueuesForFile(KSIM_WDF_FILE *File);

#endif /* KSIM_WDF_INTERNAL_H */
