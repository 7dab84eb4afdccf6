; Stack-size corner cases (SDM vol. 2, POP and ENTER): a POP SS that loads a 32-bit stack
; from a 16-bit one adds to SP within the old stack; ENTER's FrameTemp is SP for a 16-bit
; operand size and the whole ESP for a 32-bit one, also on a 16-bit stack, at every nesting
; level.  The 16-bit stack is SEL_SPARE1: base = pages (0x200000), limit 0xFFFF, B = 0.
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
    ret

%include "sys_end.inc"
