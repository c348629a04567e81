package org.janus.kvm.linux.internal;

import java.util.List;

/**
 * Every KVM uAPI struct this provider passes to the kernel, with the members it uses. The only place that knows
 * sizes and offsets: ioctl numbers ({@link Ioctls}) take their sizes from here, and the tests check each number
 * against the reference and against the kernel headers.
 */
final class Structs {
    private Structs() {}

    /** struct kvm_run, the vCPU's shared page (mmapped from the vCPU fd), with the exit union members decoded. */
    static final class KvmRun {
        static final CStruct T = new CStruct("kvm_run", 2352);
        static final CField REQUEST_INTERRUPT_WINDOW = T.u8("request_interrupt_window", 0);
        static final CField IMMEDIATE_EXIT = T.u8("immediate_exit", 1);
        static final CField EXIT_REASON = T.u32("exit_reason", 8);
        static final CField READY_FOR_INTERRUPT_INJECTION = T.u8("ready_for_interrupt_injection", 12);
        static final CField IF_FLAG = T.u8("if_flag", 13);
        static final CField FLAGS = T.u16("flags", 14);
        static final CField CR8 = T.u64("cr8", 16);
        static final CField APIC_BASE = T.u64("apic_base", 24);
        static final CField KVM_VALID_REGS = T.u64("kvm_valid_regs", 288);
        static final CField KVM_DIRTY_REGS = T.u64("kvm_dirty_regs", 296);

        static final CField FAIL_ENTRY_REASON = T.u64("fail_entry.hardware_entry_failure_reason", 32);
        static final CField FAIL_ENTRY_CPU = T.u32("fail_entry.cpu", 40);

        static final CField IO_DIRECTION = T.u8("io.direction", 32);
        static final CField IO_SIZE = T.u8("io.size", 33);
        static final CField IO_PORT = T.u16("io.port", 34);
        static final CField IO_COUNT = T.u32("io.count", 36);
        /** Offset of the I/O data from the start of kvm_run. */
        static final CField IO_DATA_OFFSET = T.u64("io.data_offset", 40);

        static final CField MMIO_PHYS_ADDR = T.u64("mmio.phys_addr", 32);
        static final CField MMIO_DATA = T.array("mmio.data", 40, 1, 8);
        static final CField MMIO_LEN = T.u32("mmio.len", 48);
        static final CField MMIO_IS_WRITE = T.u8("mmio.is_write", 52);

        static final CField HYPERCALL_NR = T.u64("hypercall.nr", 32);
        static final CField HYPERCALL_ARGS = T.array("hypercall.args", 40, 8, 6);
        static final CField HYPERCALL_RET = T.u64("hypercall.ret", 88);
        static final CField HYPERCALL_FLAGS = T.u64("hypercall.flags", 96);

        static final CField INTERNAL_SUBERROR = T.u32("internal.suberror", 32);
        static final CField INTERNAL_NDATA = T.u32("internal.ndata", 36);
        static final CField INTERNAL_DATA = T.array("internal.data", 40, 8, 16);

        static final CField SYSTEM_EVENT_TYPE = T.u32("system_event.type", 32);
        static final CField SYSTEM_EVENT_NDATA = T.u32("system_event.ndata", 36);
        static final CField SYSTEM_EVENT_DATA = T.array("system_event.data", 40, 8, 16);

        static final CField MEMORY_FAULT_FLAGS = T.u64("memory_fault.flags", 32);
        static final CField MEMORY_FAULT_GPA = T.u64("memory_fault.gpa", 40);
        static final CField MEMORY_FAULT_SIZE = T.u64("memory_fault.size", 48);

        private KvmRun() {}
    }

    /** struct kvm_userspace_memory_region2 (KVM_SET_USER_MEMORY_REGION2). */
    static final class KvmUserspaceMemoryRegion2 {
        static final CStruct T = new CStruct("kvm_userspace_memory_region2", 160);
        static final CField SLOT = T.u32("slot", 0);
        static final CField FLAGS = T.u32("flags", 4);
        static final CField GUEST_PHYS_ADDR = T.u64("guest_phys_addr", 8);
        static final CField MEMORY_SIZE = T.u64("memory_size", 16);
        static final CField USERSPACE_ADDR = T.u64("userspace_addr", 24);
        static final CField GUEST_MEMFD_OFFSET = T.u64("guest_memfd_offset", 32);
        static final CField GUEST_MEMFD = T.u32("guest_memfd", 40);
        static final CField PAD1 = T.u32("pad1", 44);
        static final CField PAD2 = T.array("pad2", 48, 8, 14);

        private KvmUserspaceMemoryRegion2() {}
    }

    /** struct kvm_memory_attributes (VM-wide KVM_SET_MEMORY_ATTRIBUTES). */
    static final class KvmMemoryAttributes {
        static final CStruct T = new CStruct("kvm_memory_attributes", 32);
        static final CField ADDRESS = T.u64("address", 0);
        static final CField SIZE = T.u64("size", 8);
        static final CField ATTRIBUTES = T.u64("attributes", 16);
        static final CField FLAGS = T.u64("flags", 24);

        private KvmMemoryAttributes() {}
    }

    /**
     * struct kvm_memory_attributes2 (KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd), in the form of the in-place
     * series v7/v8 with error_offset. Headers without the series lack it.
     */
    static final class KvmMemoryAttributes2 {
        static final CStruct T = new CStruct("kvm_memory_attributes2", 128, "KVM_SET_MEMORY_ATTRIBUTES2");
        static final CField OFFSET = T.u64("offset", 0);
        static final CField SIZE = T.u64("size", 8);
        static final CField ATTRIBUTES = T.u64("attributes", 16);
        static final CField FLAGS = T.u64("flags", 24);
        static final CField ERROR_OFFSET = T.u64("error_offset", 32);
        static final CField RESERVED = T.array("reserved", 40, 8, 11);

        private KvmMemoryAttributes2() {}
    }

    /** struct kvm_create_guest_memfd (KVM_CREATE_GUEST_MEMFD). */
    static final class KvmCreateGuestMemfd {
        static final CStruct T = new CStruct("kvm_create_guest_memfd", 64);
        static final CField SIZE = T.u64("size", 0);
        static final CField FLAGS = T.u64("flags", 8);
        static final CField RESERVED = T.array("reserved", 16, 8, 6);

        private KvmCreateGuestMemfd() {}
    }

    /** struct kvm_enable_cap (KVM_ENABLE_CAP). */
    static final class KvmEnableCap {
        static final CStruct T = new CStruct("kvm_enable_cap", 104);
        static final CField CAP = T.u32("cap", 0);
        static final CField FLAGS = T.u32("flags", 4);
        static final CField ARGS = T.array("args", 8, 8, 4);
        static final CField PAD = T.array("pad", 40, 1, 64);

        private KvmEnableCap() {}
    }

    /** struct kvm_device_attr (KVM_{GET,SET,HAS}_DEVICE_ATTR). */
    static final class KvmDeviceAttr {
        static final CStruct T = new CStruct("kvm_device_attr", 24);
        static final CField FLAGS = T.u32("flags", 0);
        static final CField GROUP = T.u32("group", 4);
        static final CField ATTR = T.u64("attr", 8);
        static final CField ADDR = T.u64("addr", 16);

        private KvmDeviceAttr() {}
    }

    /** struct kvm_regs (x86_64). */
    static final class KvmRegs {
        static final CStruct T = new CStruct("kvm_regs", 144);
        static final CField RAX = T.u64("rax", 0);
        static final CField RBX = T.u64("rbx", 8);
        static final CField RCX = T.u64("rcx", 16);
        static final CField RDX = T.u64("rdx", 24);
        static final CField RSI = T.u64("rsi", 32);
        static final CField RDI = T.u64("rdi", 40);
        static final CField RSP = T.u64("rsp", 48);
        static final CField RBP = T.u64("rbp", 56);
        static final CField R8 = T.u64("r8", 64);
        static final CField R9 = T.u64("r9", 72);
        static final CField R10 = T.u64("r10", 80);
        static final CField R11 = T.u64("r11", 88);
        static final CField R12 = T.u64("r12", 96);
        static final CField R13 = T.u64("r13", 104);
        static final CField R14 = T.u64("r14", 112);
        static final CField R15 = T.u64("r15", 120);
        static final CField RIP = T.u64("rip", 128);
        static final CField RFLAGS = T.u64("rflags", 136);

        private KvmRegs() {}
    }

    /** struct kvm_segment (x86). */
    static final class KvmSegment {
        static final CStruct T = new CStruct("kvm_segment", 24);
        static final CField BASE = T.u64("base", 0);
        static final CField LIMIT = T.u32("limit", 8);
        static final CField SELECTOR = T.u16("selector", 12);
        static final CField TYPE = T.u8("type", 14);
        static final CField PRESENT = T.u8("present", 15);
        static final CField DPL = T.u8("dpl", 16);
        static final CField DB = T.u8("db", 17);
        static final CField S = T.u8("s", 18);
        static final CField L = T.u8("l", 19);
        static final CField G = T.u8("g", 20);
        static final CField AVL = T.u8("avl", 21);
        static final CField UNUSABLE = T.u8("unusable", 22);
        static final CField PADDING = T.u8("padding", 23);

        private KvmSegment() {}
    }

    /** struct kvm_dtable (x86): a GDT or IDT register. */
    static final class KvmDtable {
        static final CStruct T = new CStruct("kvm_dtable", 16);
        static final CField BASE = T.u64("base", 0);
        static final CField LIMIT = T.u16("limit", 8);
        static final CField PADDING = T.array("padding", 10, 2, 3);

        private KvmDtable() {}
    }

    /** struct kvm_sregs (x86_64). */
    static final class KvmSregs {
        static final CStruct T = new CStruct("kvm_sregs", 312);
        static final CField CS = T.nested("cs", 0, KvmSegment.T);
        static final CField DS = T.nested("ds", 24, KvmSegment.T);
        static final CField ES = T.nested("es", 48, KvmSegment.T);
        static final CField FS = T.nested("fs", 72, KvmSegment.T);
        static final CField GS = T.nested("gs", 96, KvmSegment.T);
        static final CField SS = T.nested("ss", 120, KvmSegment.T);
        static final CField TR = T.nested("tr", 144, KvmSegment.T);
        static final CField LDT = T.nested("ldt", 168, KvmSegment.T);
        static final CField GDT = T.nested("gdt", 192, KvmDtable.T);
        static final CField IDT = T.nested("idt", 208, KvmDtable.T);
        static final CField CR0 = T.u64("cr0", 224);
        static final CField CR2 = T.u64("cr2", 232);
        static final CField CR3 = T.u64("cr3", 240);
        static final CField CR4 = T.u64("cr4", 248);
        static final CField CR8 = T.u64("cr8", 256);
        static final CField EFER = T.u64("efer", 264);
        static final CField APIC_BASE = T.u64("apic_base", 272);
        static final CField INTERRUPT_BITMAP = T.array("interrupt_bitmap", 280, 8, 4);

        private KvmSregs() {}
    }

    /** struct kvm_cpuid2 (x86): a header followed by {@code nent} struct kvm_cpuid_entry2. */
    static final class KvmCpuid2 {
        static final CStruct T = new CStruct("kvm_cpuid2", 8);
        static final CField NENT = T.u32("nent", 0);
        static final CField PADDING = T.u32("padding", 4);
        /** Offset of entries[0]; the flexible array adds nothing to sizeof. */
        static final int ENTRIES = 8;

        private KvmCpuid2() {}
    }

    /** struct kvm_cpuid_entry2 (x86). */
    static final class KvmCpuidEntry2 {
        static final CStruct T = new CStruct("kvm_cpuid_entry2", 40);
        static final CField FUNCTION = T.u32("function", 0);
        static final CField INDEX = T.u32("index", 4);
        static final CField FLAGS = T.u32("flags", 8);
        static final CField EAX = T.u32("eax", 12);
        static final CField EBX = T.u32("ebx", 16);
        static final CField ECX = T.u32("ecx", 20);
        static final CField EDX = T.u32("edx", 24);
        static final CField PADDING = T.array("padding", 28, 4, 3);

        private KvmCpuidEntry2() {}
    }

    /** struct kvm_pre_fault_memory (KVM_PRE_FAULT_MEMORY); gpa and size are updated by the kernel. */
    static final class KvmPreFaultMemory {
        static final CStruct T = new CStruct("kvm_pre_fault_memory", 64);
        static final CField GPA = T.u64("gpa", 0);
        static final CField SIZE = T.u64("size", 8);
        static final CField FLAGS = T.u64("flags", 16);
        static final CField PADDING = T.array("padding", 24, 8, 5);

        private KvmPreFaultMemory() {}
    }

    /** struct kvm_sev_cmd (KVM_MEMORY_ENCRYPT_OP on an SEV VM). */
    static final class KvmSevCmd {
        static final CStruct T = new CStruct("kvm_sev_cmd", 24);
        static final CField ID = T.u32("id", 0);
        static final CField PAD0 = T.u32("pad0", 4);
        static final CField DATA = T.u64("data", 8);
        static final CField ERROR = T.u32("error", 16);
        static final CField SEV_FD = T.u32("sev_fd", 20);

        private KvmSevCmd() {}
    }

    /** struct kvm_tdx_cmd (KVM_MEMORY_ENCRYPT_OP on a TDX VM or vCPU); hw_error is written by the kernel. */
    static final class KvmTdxCmd {
        static final CStruct T = new CStruct("kvm_tdx_cmd", 24);
        static final CField ID = T.u32("id", 0);
        static final CField FLAGS = T.u32("flags", 4);
        static final CField DATA = T.u64("data", 8);
        static final CField HW_ERROR = T.u64("hw_error", 16);

        private KvmTdxCmd() {}
    }

    /** struct kvm_tdx_capabilities (KVM_TDX_CAPABILITIES): a fixed part, then a kvm_cpuid2 with its entries. */
    static final class KvmTdxCapabilities {
        static final CStruct T = new CStruct("kvm_tdx_capabilities", 2056);
        static final CField SUPPORTED_ATTRS = T.u64("supported_attrs", 0);
        static final CField SUPPORTED_XFAM = T.u64("supported_xfam", 8);
        static final CField KERNEL_TDVMCALLINFO_1_R11 = T.u64("kernel_tdvmcallinfo_1_r11", 16);
        static final CField USER_TDVMCALLINFO_1_R11 = T.u64("user_tdvmcallinfo_1_r11", 24);
        static final CField KERNEL_TDVMCALLINFO_1_R12 = T.u64("kernel_tdvmcallinfo_1_r12", 32);
        static final CField USER_TDVMCALLINFO_1_R12 = T.u64("user_tdvmcallinfo_1_r12", 40);
        static final CField RESERVED = T.array("reserved", 48, 8, 250);
        static final CField CPUID = T.nested("cpuid", 2048, KvmCpuid2.T);

        private KvmTdxCapabilities() {}
    }

    /** struct kvm_tdx_init_vm (KVM_TDX_INIT_VM): TD parameters, then a kvm_cpuid2 with its entries. */
    static final class KvmTdxInitVm {
        static final CStruct T = new CStruct("kvm_tdx_init_vm", 264);
        static final CField ATTRIBUTES = T.u64("attributes", 0);
        static final CField XFAM = T.u64("xfam", 8);
        static final CField MRCONFIGID = T.array("mrconfigid", 16, 8, 6);
        static final CField MROWNER = T.array("mrowner", 64, 8, 6);
        static final CField MROWNERCONFIG = T.array("mrownerconfig", 112, 8, 6);
        static final CField RESERVED = T.array("reserved", 160, 8, 12);
        static final CField CPUID = T.nested("cpuid", 256, KvmCpuid2.T);

        private KvmTdxInitVm() {}
    }

    /** struct kvm_tdx_init_mem_region (KVM_TDX_INIT_MEM_REGION); the kernel advances all three fields. */
    static final class KvmTdxInitMemRegion {
        static final CStruct T = new CStruct("kvm_tdx_init_mem_region", 24);
        static final CField SOURCE_ADDR = T.u64("source_addr", 0);
        static final CField GPA = T.u64("gpa", 8);
        static final CField NR_PAGES = T.u64("nr_pages", 16);

        private KvmTdxInitMemRegion() {}
    }

    /** struct kvm_irq_level (KVM_IRQ_LINE): irq shares a union with the status KVM_IRQ_LINE_STATUS writes back. */
    static final class KvmIrqLevel {
        static final CStruct T = new CStruct("kvm_irq_level", 8);
        static final CField IRQ = T.u32("irq", 0);
        static final CField LEVEL = T.u32("level", 4);

        private KvmIrqLevel() {}
    }

    /** struct kvm_pit_config (KVM_CREATE_PIT2). */
    static final class KvmPitConfig {
        static final CStruct T = new CStruct("kvm_pit_config", 64);
        static final CField FLAGS = T.u32("flags", 0);
        static final CField PAD = T.array("pad", 4, 4, 15);

        private KvmPitConfig() {}
    }

    /** Every struct above, for the layout tests. */
    static final List<CStruct> ALL = List.of(KvmRun.T, KvmUserspaceMemoryRegion2.T, KvmMemoryAttributes.T,
            KvmMemoryAttributes2.T, KvmCreateGuestMemfd.T, KvmEnableCap.T, KvmDeviceAttr.T, KvmRegs.T, KvmSegment.T,
            KvmDtable.T, KvmSregs.T, KvmCpuid2.T, KvmCpuidEntry2.T, KvmPreFaultMemory.T, KvmSevCmd.T, KvmTdxCmd.T,
            KvmTdxCapabilities.T, KvmTdxInitVm.T, KvmTdxInitMemRegion.T, KvmIrqLevel.T, KvmPitConfig.T);
}
