/* SPDX-License-Identifier: MIT
 *
 * A toy non-PnP KMDF driver for ksim's own tests: a control device with a default parallel
 * queue and two manual queues, exercising the patterns wsk-bridge's driver uses (inverted
 * call, cancelable requests, file contexts) and, on purpose, the mistakes ksim must report.
 * Split over two translation units so that typed contexts are shared as in a real driver.
 */
#pragma once

#include <ntddk.h>
#include <wdf.h>
#include <wdmsec.h>

#define TOY_TAG_FILE 'eliF'
#define TOY_TAG_ALLOC 'colA'
#define TOY_TAG_LEAK 'kaeL'

#define TOY_DEVICE_NAME L"\\Device\\KsimToy"
#define TOY_LINK_NAME L"\\DosDevices\\KsimToy"
#define TOY_USER_PATH L"\\\\.\\KsimToy"

#define TOY_IOCTL(n) ((ULONG)CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800 + (n), METHOD_BUFFERED, FILE_ANY_ACCESS))
#define IOCTL_TOY_ECHO TOY_IOCTL(0)
#define IOCTL_TOY_PEND TOY_IOCTL(1)            /* forwarded to the manual queue (no cancel callback) */
#define IOCTL_TOY_PEND_NOTIFY TOY_IOCTL(2)     /* forwarded to the manual queue with EvtIoCanceledOnQueue */
#define IOCTL_TOY_FIRE TOY_IOCTL(3)            /* completes this file's oldest PEND with a ULONG */
#define IOCTL_TOY_HOLD TOY_IOCTL(4)            /* kept by the driver, cancelable */
#define IOCTL_TOY_RELEASE TOY_IOCTL(5)         /* completes the held request */
#define IOCTL_TOY_DOUBLE_COMPLETE TOY_IOCTL(6) /* completes twice */
#define IOCTL_TOY_COMPLETE_QUEUED TOY_IOCTL(7) /* forwards, then completes the queued request */
#define IOCTL_TOY_RETURN_RAISED TOY_IOCTL(8)   /* returns at DISPATCH_LEVEL */
#define IOCTL_TOY_NEVER TOY_IOCTL(9)           /* never completes */
#define IOCTL_TOY_ALLOC TOY_IOCTL(10)          /* allocates and frees pool */
#define IOCTL_TOY_LEAK TOY_IOCTL(11)           /* allocates pool and forgets it */
#define IOCTL_TOY_IRQL TOY_IOCTL(12)           /* returns the IRQL of EvtIoDeviceControl */
#define IOCTL_TOY_THREAD TOY_IOCTL(13)         /* runs a system thread and waits for it */
#define IOCTL_TOY_HOLD_POLL TOY_IOCTL(14)      /* kept by the driver, not cancelable: RELEASE polls IsCanceled */
/* METHOD_OUT_DIRECT echo: the output through Irp->MdlAddress; records what the MDL looked like. */
#define IOCTL_TOY_ECHO_DIRECT ((ULONG)CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800 + 16, METHOD_OUT_DIRECT, FILE_ANY_ACCESS))
#define IOCTL_TOY_REFERENCE TOY_IOCTL(15)      /* references the request across its completion */
#define IOCTL_TOY_REQUEUE TOY_IOCTL(17)        /* retrieves this file's oldest PEND and requeues it */
#define IOCTL_TOY_REQUEUE_OWN TOY_IOCTL(18)    /* wrong: requeues itself, delivered by a parallel queue */

typedef struct _TOY_DEVICE_CONTEXT {
    WDFQUEUE PendQueue;
    WDFQUEUE NotifyQueue;
    KSPIN_LOCK Lock;
    WDFREQUEST Held;
    BOOLEAN HeldCancelable;
} TOY_DEVICE_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(TOY_DEVICE_CONTEXT, ToyDeviceGetContext)

typedef struct _TOY_FILE_CONTEXT {
    ULONG Magic;
    PVOID Buffer; /* pool, freed by the file's cleanup callback */
} TOY_FILE_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(TOY_FILE_CONTEXT, ToyFileGetContext)

#define TOY_FILE_MAGIC 0x46796F54u

/* What the test observes and steers. */
typedef struct _TOY_STATE {
    PVOID DirectOutput;       /* IOCTL_TOY_ECHO_DIRECT: WdfRequestRetrieveOutputBuffer's pointer */
    PVOID DirectMdlMapping;   /* MmGetSystemAddressForMdlSafe of WdfRequestRetrieveOutputWdmMdl's MDL */
    CSHORT DirectMdlFlags;
    BOOLEAN DeferFinishInitializing;
    BOOLEAN FailCreate;
    WDFDEVICE Device;
    volatile LONG Sequence;
    LONG CreateSeen, CleanupSeen, CloseSeen, FileContextCleanupSeen, DriverCleanupSeen, UnloadSeen;
    LONG DeviceCleanupSeen, DeviceDestroySeen;
    NTSTATUS StatusAfterCompletion;
    LONG CanceledOnQueueCount;
    KIRQL CanceledOnQueueIrql;
    LONG CancelRoutineCount;
    KIRQL CancelRoutineIrql;
} TOY_STATE;
extern TOY_STATE ToyState;

EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL ToyEvtIoDeviceControl;
EVT_WDF_IO_QUEUE_IO_CANCELED_ON_QUEUE ToyEvtIoCanceledOnQueue;
