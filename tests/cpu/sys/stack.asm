; Stack-size corner cases (SDM vol. 2, POP and ENTER): a POP SS that loads a 32-bit stack
; from a 16-bit one adds to SP within the old stack; ENTER's FrameTemp is SP for a 16-bit
; operand size and the whole ESP for a 32-bit one, also on a 16-bit stack, at every nesting
; level.  The 16-bit stack is SEL_SPARE1: base = pages (0x200000), limit 0xFFFF, B = 0.
; Then ENTER 8, n for every nesting level 0-31 (and 37, taken mod 32) with both operand sizes
; on both stack sizes, each result worked out from the SDM's pseudocode at assembly time.
%include "sys.inc"

%macro STACK16 1                    ; SS = the 16-bit segment, ESP = %1
    mov ax, SEL_SPARE1
    mov ss, ax
    mov esp, %1
%endmacro
%macro STACK32 0                    ; back to the flat stack of the framework
    mov ax, SEL_DATA0
    mov ss, ax
    mov esp, [saved_esp]
%endmacro

; ENTER_CASE op32, stack32, level: ENTER 8, level with a 32-bit (1) or 16-bit (0) operand on
; a 32-bit (1) or 16-bit (0) stack, BP = 0x8000 and SP = 0xFFF0 within the stack's 64 KiB at
; `pages`, against the SDM (vol. 2, ENTER): push (E)BP; FrameTemp = ESP (o32) or SP (o16);
; for i = 1 .. level-1 push [BP - i * size]; if level > 0 push FrameTemp; (E)BP = FrameTemp;
; (E)SP -= 8, where the 16-bit stack changes SP only.
%macro ENTER_CASE 3
    %assign OS (%1 ? 4 : 2)
    %assign LV (%3 % 32)
    %if %2
        %assign BASE 0
        %assign SP0 pages + 0xfff0
        %assign EBP0 pages + 0x8000
        %define STKN "32-bit stack"
    %else
        %assign BASE pages
        %assign SP0 0xfff0
        %assign EBP0 0xabcd8000
        %define STKN "16-bit stack"
    %endif
    %assign BP0 EBP0 & 0xffff
    %if %2
        %assign FRAME EBP0              ; where [EBP - n] is, as a linear address
    %else
        %assign FRAME BASE + BP0
    %endif
    %assign SP1 SP0 - OS
    %if %1 && %2 == 0
        %assign FT 0x20000 + SP1
    %elif %1
        %assign FT SP1
    %else
        %assign FT SP1 & 0xffff
    %endif
    %if LV > 0
        %assign SPF SP1 - OS * LV - 8
    %else
        %assign SPF SP1 - 8
    %endif
    %if %2
        %assign ESPF SPF
    %else
        %assign ESPF 0x20000 + (SPF & 0xffff)
    %endif
    %if %1
        %assign EBPF FT
        %define OSN "o32"
        %define SIZE dword
    %else
        %assign EBPF (EBP0 & 0xffff0000) | FT
        %define OSN "o16"
        %define SIZE word
    %endif
    %defstr LVS %3
    %define NAME OSN, " ENTER 8, ", LVS, " on a ", STKN
    mov edi, pages + 0xff00         ; the frame area, so no earlier case's values remain
    mov ecx, 0x40
    mov eax, 0xeeeeeeee
    rep stosd
    %if %2
    mov esp, SP0
    %else
    STACK16 0x20000 + SP0
    %endif
    mov ebp, EBP0
    %if %1
    enter 8, %3
    %else
    o16 enter 8, %3
    %endif
    mov ecx, esp
    mov edx, ebp
    %if %2
    mov esp, [saved_esp]
    %else
    STACK32
    %endif
    CHECK ecx, ESPF, {NAME, ": ESP"}
    CHECK edx, EBPF, {NAME, ": EBP"}
    %if %1
    CHECK dword [BASE + SP1], EBP0, {NAME, ": EBP pushed first"}
    %else
    CHECK word [BASE + SP1], BP0, {NAME, ": BP pushed first"}
    %endif
    %if LV > 0
    CHECK SIZE [BASE + SP1 - OS * LV], FT, {NAME, ": FrameTemp pushed last"}
    %endif
    %if LV > 1
    mov esi, FRAME - OS * (LV - 1)
    mov edi, BASE + SP1 - OS * (LV - 1)
    mov ecx, OS * (LV - 1)
    repe cmpsb
    je %%copied
    mov esi, %%msg
    jmp fail_with
%%msg: db NAME, ": the frame pointers copied from [BP-n]", 0
%%copied:
    %endif
%endmacro

test_main:
    mov [saved_esp], esp
    ; 16-bit data segment at 0x200000 in the spare GDT slot.
    mov dword [gdt + SEL_SPARE1], 0x0000ffff
    mov dword [gdt + SEL_SPARE1 + 4], 0x00009220

    ; POP SS with a 32-bit operand: SP 0xFFFC + 4 wraps to 0, ESP's upper half stays.
    mov dword [pages + 0xfffc], SEL_DATA0
    STACK16 0x2fffc
    pop ss
    mov ecx, esp
    STACK32
    CHECK ecx, 0x20000, "o32 POP SS from a 16-bit stack: ESP 0x2FFFC -> 0x20000"

    ; The same with a 16-bit operand.
    mov word [pages + 0xfffe], SEL_DATA0
    STACK16 0x2fffe
    o16 pop ss
    mov ecx, esp
    STACK32
    CHECK ecx, 0x20000, "o16 POP SS from a 16-bit stack: ESP 0x2FFFE -> 0x20000"

    ; ENTER 8, 1 with a 32-bit operand on a 16-bit stack: FrameTemp is the whole ESP.
    STACK16 0x2fff0
    mov ebp, 0x1234ff00
    enter 8, 1
    mov ecx, esp
    mov edx, ebp
    STACK32
    CHECK dword [pages + 0xffec], 0x1234ff00, "o32 ENTER pushes EBP"
    CHECK dword [pages + 0xffe8], 0x2ffec, "o32 ENTER level 1 pushes the whole ESP as FrameTemp"
    CHECK edx, 0x2ffec, "o32 ENTER loads EBP with the whole FrameTemp"
    CHECK ecx, 0x2ffe0, "o32 ENTER 8, 1 leaves SP at 0xFFE0 with ESP's upper half"

    ; ENTER 8, 3: two frame pointers copied from SS:BP-4 and SS:BP-8 (16-bit BP).
    mov dword [pages + 0xfefc], 0xaaaa0001
    mov dword [pages + 0xfef8], 0xbbbb0002
    STACK16 0x2fff0
    mov ebp, 0x1234ff00
    enter 8, 3
    mov ecx, esp
    mov edx, ebp
    STACK32
    CHECK dword [pages + 0xffe8], 0xaaaa0001, "o32 ENTER level 3 copies [BP-4]"
    CHECK dword [pages + 0xffe4], 0xbbbb0002, "o32 ENTER level 3 copies [BP-8]"
    CHECK dword [pages + 0xffe0], 0x2ffec, "o32 ENTER level 3 pushes FrameTemp last"
    CHECK edx, 0x2ffec, "o32 ENTER level 3 EBP"
    CHECK ecx, 0x2ffd8, "o32 ENTER 8, 3 ESP"

    ; ENTER 8, 1 with a 16-bit operand: FrameTemp = SP, BP gets it, EBP's top stays.
    STACK16 0x2fff0
    mov ebp, 0x1234ff00
    o16 enter 8, 1
    mov ecx, esp
    mov edx, ebp
    STACK32
    CHECK dword [pages + 0xffec], 0xff00ffee, "o16 ENTER pushes BP then FrameTemp = SP"
    CHECK edx, 0x1234ffee, "o16 ENTER loads BP, keeps EBP's upper half"
    CHECK ecx, 0x2ffe4, "o16 ENTER 8, 1 ESP"

    ; ENTER on a 32-bit stack, level 2, for comparison: plain 32-bit arithmetic.
    mov dword [pages + 0x1000 - 4], 0xcccc0003
    mov ebp, pages + 0x1000
    mov esp, pages + 0x2000
    enter 4, 2
    mov ecx, esp
    mov edx, ebp
    mov esp, [saved_esp]
    CHECK dword [pages + 0x2000 - 4], pages + 0x1000, "32-bit ENTER pushes EBP"
    CHECK dword [pages + 0x2000 - 8], 0xcccc0003, "32-bit ENTER level 2 copies [EBP-4]"
    CHECK dword [pages + 0x2000 - 12], pages + 0x2000 - 4, "32-bit ENTER pushes FrameTemp"
    CHECK edx, pages + 0x2000 - 4, "32-bit ENTER EBP"
    CHECK ecx, pages + 0x2000 - 16, "32-bit ENTER ESP"

    ; The frame pointers ENTER copies come from [BP-n]: distinct bytes below BP = 0x8000.
    mov edi, pages + 0x7f00
    mov ecx, 0x100
    mov al, 0x11
.fill:
    stosb
    add al, 0x35
    loop .fill
%assign L 0
%rep 33
%if L == 32
    %assign LEVEL 37
%else
    %assign LEVEL L
%endif
    ENTER_CASE 1, 0, LEVEL
    ENTER_CASE 0, 0, LEVEL
    ENTER_CASE 1, 1, LEVEL
    ENTER_CASE 0, 1, LEVEL
%assign L L + 1
%endrep
    ret

%include "sys_end.inc"
