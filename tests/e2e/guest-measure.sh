# shellcheck shell=sh
# Sourced by the /init of both e2e initramfs images (guest-init.sh and
# arm64/guest-init.sh; busybox ash): how the capture kernel's saver is
# measured where users wait for it. build-initramfs.sh installs it as
# /guest-measure.sh.

# measured CMD...: run CMD, watching its peak resident set (VmHWM, a
# high-water mark, so only growth in its last 0.1 s can be missed) in
# /proc/PID/status; "vmhwm_kib=N" goes to /tmp/rusage. Returns CMD's exit
# status. The loop forks nothing (the shell's read, and read -t on a FIFO
# nobody writes as the 0.1 s sleep), so it does not slow the saver on the
# capture kernel's one CPU. Not busybox time: its %M multiplies ru_maxrss,
# already KiB on Linux, by the page size over 1024 (ptok(), from GNU time
# 1.7): 4 times the truth on x86_64.
measured() {
    [ -p /tmp/tick ] || mkfifo /tmp/tick
    exec 9<> /tmp/tick
    "$@" 9<&- &
    pid=$!
    hwm=0
    while :; do
        state=
        while read -r key value _; do
            case $key in
                State:) state=$value ;;
                VmHWM:) hwm=$value ;;
            esac
        done 2> /dev/null < "/proc/$pid/status"
        # Gone, or a zombie (no memory left to read): wait reaps it.
        case $state in "" | Z) break ;; esac
        # shellcheck disable=SC3045 # busybox ash's read has -t, fractions too
        read -r -t 0.1 _ <&9
    done
    wait "$pid"
    status=$?
    exec 9<&-
    echo "vmhwm_kib=$hwm" > /tmp/rusage
    return $status
}
memavailable() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }
