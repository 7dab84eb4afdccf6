# Sourced by the CPU tests whose reference is the host CPU running 32-bit code natively.
# host_runs_ia32 [BUILD_DIR]: succeeds when this host's kernel runs 32-bit x86 programs.
# Some VM kernels (firecracker/PVM hosts among them) have IA-32 compatibility mode turned
# off: there a -m32 program fails with "Exec format error" and no native reference exists.
host_runs_ia32() {
    local d=${1:-build}/host-ia32
    mkdir -p "$d"
    if [ ! -x "$d/probe" ]; then
        printf 'int main(void) { return 0; }\n' > "$d/probe.c"
        ${CC:-gcc} -m32 -static -o "$d/probe" "$d/probe.c" 2>/dev/null || return 1
    fi
    "$d/probe" 2>/dev/null
}

# The line printed when the native reference is missing.
IA32_SKIP_REASON="this host's kernel cannot run 32-bit programs (no IA-32 compatibility mode), so there is no native reference to compare with"
