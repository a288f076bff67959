/* SPDX-License-Identifier: MIT
 *
 * ksim: SAL 2 annotations as the WDK's sal.h / driverspecs.h spell them. They carry no
 * meaning for gcc/clang, so every one expands to nothing; they exist so that the driver
 * sources compile unchanged against ksim and against the WDK (where Code Analysis reads them).
 */
#ifndef _KSIM_SAL_H_
#define _KSIM_SAL_H_

#define _SAL_VERSION 20

/* Parameters */
#define _In_
#define _In_opt_
#define _In_z_
#define _In_opt_z_
#define _Out_
#define _Out_opt_
#define _Inout_
#define _Inout_opt_
#define _Inout_z_
#define _In_reads_(s)
#define _In_reads_opt_(s)
#define _In_reads_bytes_(s)
#define _In_reads_bytes_opt_(s)
#define _In_reads_z_(s)
#define _In_range_(l, h)
#define _Out_range_(l, h)
#define _Out_writes_(s)
#define _Out_writes_opt_(s)
#define _Out_writes_bytes_(s)
#define _Out_writes_bytes_opt_(s)
#define _Out_writes_to_(s, c)
#define _Out_writes_to_opt_(s, c)
#define _Out_writes_bytes_to_(s, c)
#define _Out_writes_bytes_to_opt_(s, c)
#define _Out_writes_all_(s)
#define _Out_writes_bytes_all_(s)
#define _Out_writes_z_(s)
#define _Inout_updates_(s)
#define _Inout_updates_opt_(s)
#define _Inout_updates_bytes_(s)
#define _Inout_updates_bytes_opt_(s)
#define _Inout_updates_to_(s, c)
#define _Inout_updates_bytes_to_(s, c)
#define _Outptr_
#define _Outptr_opt_
#define _Outptr_result_maybenull_
#define _Outptr_opt_result_maybenull_
#define _Outptr_result_nullonfailure_
#define _Outptr_result_buffer_(s)
#define _Outptr_result_bytebuffer_(s)
#define _Outptr_opt_result_bytebuffer_(s)
#define _Outptr_result_bytebuffer_maybenull_(s)
#define _Deref_out_range_(l, h)
#define _Deref_in_range_(l, h)
#define _Deref_out_
#define _Deref_post_
#define _Deref_pre_
#define _Reserved_
#define _Pre_
#define _Post_
#define _Pre_notnull_
#define _Pre_maybenull_
#define _Pre_null_
#define _Pre_valid_
#define _Pre_invalid_
#define _Pre_defensive_
#define _Pre_satisfies_(e)
#define _Post_satisfies_(e)
#define _Post_valid_
#define _Post_invalid_
#define _Post_ptr_invalid_
#define _Post_notnull_
#define _Post_maybenull_
#define _Post_null_
#define _Post_z_
#define _Post_writable_byte_size_(s)
#define _Post_readable_byte_size_(s)
#define _Post_equal_to_(e)
#define _Frees_ptr_
#define _Frees_ptr_opt_
#define _Notnull_
#define _Maybenull_
#define _Null_terminated_
#define _NullNull_terminated_
#define _Printf_format_string_
#define _Literal_
#define _Const_
#define _Writable_bytes_(s)
#define _Readable_bytes_(s)
#define _Writable_elements_(s)
#define _Readable_elements_(s)
#define _Strict_type_match_
#define _Points_to_data_
#define _Interlocked_operand_

/* Results */
#define _Must_inspect_result_
#define _Check_return_
#define _Success_(e)
#define _Return_type_success_(e)
#define _Ret_
#define _Ret_maybenull_
#define _Ret_notnull_
#define _Ret_null_
#define _Ret_z_
#define _Ret_range_(l, h)
#define _Ret_writes_(s)
#define _Ret_writes_bytes_(s)
#define _Ret_writes_maybenull_(s)
#define _Ret_writes_bytes_maybenull_(s)
#define _Result_nullonfailure_
#define _Result_zeroonfailure_

/* Structures */
#define _Field_size_(s)
#define _Field_size_opt_(s)
#define _Field_size_bytes_(s)
#define _Field_size_bytes_opt_(s)
#define _Field_size_part_(s, c)
#define _Field_size_bytes_part_(s, c)
#define _Field_size_full_(s)
#define _Field_range_(l, h)
#define _Field_z_
#define _Struct_size_bytes_(s)
#define _Satisfies_(e)

/* Conditions and structure of annotations */
#define _When_(c, a)
#define _At_(t, a)
#define _At_buffer_(t, i, c, a)
#define _Always_(a)
#define _On_failure_(a)
#define _Group_(a)
#define _Analysis_assume_(e)
#define _Analysis_noreturn_
#define _Analysis_mode_(m)
#define _Use_decl_annotations_
#define _Enum_is_bitflag_
#define _Unchanged_(e)
#define _Function_class_(c)
#define _Inexpressible_(e)

/* Locks */
#define _Requires_lock_held_(l)
#define _Requires_lock_not_held_(l)
#define _Requires_exclusive_lock_held_(l)
#define _Requires_shared_lock_held_(l)
#define _Requires_no_locks_held_
#define _Acquires_lock_(l)
#define _Releases_lock_(l)
#define _Acquires_exclusive_lock_(l)
#define _Releases_exclusive_lock_(l)
#define _Acquires_shared_lock_(l)
#define _Releases_shared_lock_(l)
#define _Guarded_by_(l)
#define _Write_guarded_by_(l)
#define _Interlocked_
#define _Has_lock_kind_(k)
#define _Lock_kind_spin_lock_
#define _Create_lock_level_(l)
#define _Benign_race_begin_
#define _Benign_race_end_
#define _No_competing_thread_
#define _No_competing_thread_begin_
#define _No_competing_thread_end_

/* driverspecs.h: IRQL and kernel annotations */
#define _IRQL_requires_(i)
#define _IRQL_requires_max_(i)
#define _IRQL_requires_min_(i)
#define _IRQL_requires_same_
#define _IRQL_raises_(i)
#define _IRQL_saves_
#define _IRQL_restores_
#define _IRQL_saves_global_(k, v)
#define _IRQL_restores_global_(k, v)
#define _IRQL_always_function_min_(i)
#define _IRQL_always_function_max_(i)
#define _IRQL_uses_cancel_
#define _IRQL_is_cancel_
#define _IRQL_lowers_(i)
#define _Kernel_clear_do_init_(v)
#define _Kernel_float_saved_
#define _Kernel_float_restored_
#define _Kernel_float_used_
#define _Kernel_requires_resource_held_(r)
#define _Kernel_requires_resource_not_held_(r)
#define _Kernel_acquires_resource_(r)
#define _Kernel_releases_resource_(r)
#define _Dispatch_type_(t)
#define _Flt_CompletionContext_Outptr_
#define _When_irql_(c, a)
#define __drv_aliasesMem
#define __drv_allocatesMem(k)
#define __drv_freesMem(k)
#define __drv_when(c, a)
#define __drv_maxIRQL(i)
#define __drv_minIRQL(i)
#define __drv_requiresIRQL(i)
#define __drv_setsIRQL(i)
#define __drv_savesIRQL
#define __drv_restoresIRQL
#define __drv_savesIRQLGlobal(k, v)
#define __drv_restoresIRQLGlobal(k, v)
#define __drv_strictTypeMatch(m)
#define __drv_strictType(t, m)
#define __drv_dispatchType(t)
#define __drv_dispatchType_other
#define __drv_useCancelIRQL
#define __drv_completionType(t)
#define __drv_inTry
#define __drv_Mode_impl(x)
#define __drv_functionClass(c)
#define __drv_arg(a, b)
#define __drv_in(a)
#define __drv_out(a)
#define __drv_reportError(e)

/* Old-style (pre-SAL 2) spellings that WDK headers still use. */
#ifndef IN
#define IN
#endif
#ifndef OUT
#define OUT
#endif
#ifndef OPTIONAL
#define OPTIONAL
#endif

#endif /* _KSIM_SAL_H_ */
