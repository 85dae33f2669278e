#!/usr/bin/python3
"""A model of a capture's save time and memory, from measured per-page costs
(issue 18 §4), for machines larger than this one.

crashcapture-save's kdump writer (lib/dump/kdump-writer.cpp) works in
batches: it reads a batch of kept pages (one thread), compresses them on
every thread (ParallelFor), then writes them (one thread); before that the
page filter walks the crashed kernel's struct pages for every frame. So with
n compressing threads:

    save(n) = fixed + frames * filter + kept * read
              + compressed * compress / n + bytes_out * write

(Amdahl: only compression is split). The costs are calibrated from crash
cycles of one guest (bench/run-capture-cpus.sh, 1 GiB, one capture CPU),
which differ in one term each:

    A0  -c none --dump-to /dev/null   fixed + frames * filter + kept * read
    A   -c none                       A0 + bytes_out * write
    B   (the default: zstd level 1)   A0 + compressed * compress + bytes_out * write

"fixed" is what the cycle's save span (SAVE_START -> SAVE_DONE) holds beyond
the saver's own duration_sec: its start, the sync, the shell. One run cannot
split the filter's per-frame cost from the read's per-kept-page cost (a
fourth run, C: --dump-level 0, reads every frame without the filter, but on
this shared host it ran under another load than A0 and gave a negative
filter cost), so A0's time is charged to kept pages ("read" includes the
filter). For a machine of another size at the same kept fraction this is
the same total.

    capture-model.py calibrate A0 A B > costs.json     (run directories)
    capture-model.py check costs.json RUN...           predicted vs measured save seconds
    capture-model.py predict costs.json [--memory-gib 1024] [--kept 0.05]
    capture-model.py follows PROBE costs.json      the memory formula against
                                                   reservation.cpp's (a ctest)

The memory the capture kernel needs follows lib/arming/reservation.cpp
(capture_memory_need(), saver_memory_bytes(), capture_cpu_cost_bytes()); the
constants below are copied from there and must follow it.
"""
import argparse
import json
import math
import os
import sys

MIB = 1 << 20
GIB = 1 << 30
PAGE = 4096

# lib/arming/reservation.cpp (keep in step).
WORKING_MARGIN = 29 * MIB          # kCaptureWorkingMarginBytes
CALIBRATION_MEMORY = 1 * GIB       # kCalibrationMemoryBytes
FILTER_WINDOW_PAGES = 1 << 20      # kFilterWindowPages (page-filter.hpp)
SECTION = 128 * MIB                # kSectionBytes
BATCH_BUFFERS = 3                  # kBatchBuffers
BATCH_PAGES = 256                  # WriteOptions::batch_pages
COMPRESSOR = 1 * MIB               # kCompressorBytes
SAVER_PROCESS = 2 * MIB            # kSaverProcessBytes
KERNEL_PER_CPU = None              # kCaptureKernelPerCpuBytes: read from costs.json
ROUNDING = 16 * MIB                # kRoundingBytes

# The capture kernel and initrd the reservation sweep measured (reservation.cpp):
# Debian 12's 6.1 kernel (init_size 63.6 MiB) and crashcaptured's dracut
# initrd (12.7 MiB zstd, 37.6 MiB of files).
KERNEL_LOAD = int(63.6 * MIB)
INITRD = int(12.7 * MIB)
INITRD_UNPACKED = int(37.6 * MIB)


def saver_memory(memory):
    frames = memory // PAGE
    window = min(frames, FILTER_WINDOW_PAGES)
    bitmaps = window // 8 * 2 * 2
    sections = (memory // SECTION + 1) * 8
    return bitmaps + sections + BATCH_BUFFERS * BATCH_PAGES * PAGE + COMPRESSOR + SAVER_PROCESS


def capture_need(memory, cpus, kernel_per_cpu):
    margin = WORKING_MARGIN + max(0, saver_memory(memory) - saver_memory(CALIBRATION_MEMORY))
    per_cpu = kernel_per_cpu + BATCH_BUFFERS * BATCH_PAGES * PAGE + COMPRESSOR
    needed = KERNEL_LOAD + INITRD + INITRD_UNPACKED + margin + (cpus - 1) * per_cpu
    return needed, math.ceil(needed / ROUNDING) * ROUNDING


def follows(probe, kernel_per_cpu):
    """Runs tests/integration/probes/reservation.cpp's probe and compares its
    needs with capture_need(): 0 when every one matches to the byte."""
    import subprocess
    sizes = [1 * GIB, 4 * GIB, 64 * GIB, 1024 * GIB, 4096 * GIB]
    output = subprocess.run([probe, str(KERNEL_LOAD), str(INITRD),
                             str(INITRD_UNPACKED)] + [str(m) for m in sizes],
                            check=True, capture_output=True, text=True).stdout
    lines = [json.loads(line) for line in output.splitlines()]
    failures = 0
    for line in lines:
        if "cpu_cost" in line:
            ours = capture_need(GIB, 2, kernel_per_cpu)[0] - capture_need(GIB, 1, kernel_per_cpu)[0]
            same = ours == line["cpu_cost"]
            print(f"one more CPU: reservation.cpp {line['cpu_cost']}, the model {ours}: "
                  f"{'same' if same else 'DIFFERENT'}")
        else:
            ours = capture_need(line["memory"], 1, kernel_per_cpu)[0]
            same = ours == line["needed"]
            print(f"{line['memory'] / GIB:g} GiB, one CPU: reservation.cpp needs {line['needed']}, "
                  f"the model {ours}: {'same' if same else 'DIFFERENT'}")
        failures += not same
    return 1 if failures or len(lines) != len(sizes) + 1 else 0


def read_run(directory):
    """What one crash cycle measured: its save span and the saver's counts."""
    timings = {}
    with open(os.path.join(directory, "timings.txt")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and not line.startswith("#"):
                timings[parts[0]] = parts[1]
            elif line.startswith("# kernel="):
                for word in line[2:].split():
                    key, _, value = word.partition("=")
                    timings["knob_" + key] = value
    with open(os.path.join(directory, "status.json")) as f:
        status = json.load(f)
    pages = status["pages"]
    return {
        "name": os.path.basename(os.path.normpath(directory)),
        "path": os.path.normpath(directory),
        "save_s": float(timings["save_duration"]),
        "saver_s": float(status["duration_sec"]),
        "frames": pages["total"],
        "kept": pages["dumpable"],
        "compressed": pages["written"] if status["compression"] != "none" else 0,
        "bytes_out": status["bytes_out"],
        "threads": int(timings.get("knob_capture_cpus", "1") or 1),
        "memory_mib": int(timings.get("knob_mem", "0") or 0),
    }


def calibrate(a0, a, b):
    fixed = sum(r["save_s"] - r["saver_s"] for r in (a0, a, b)) / 3
    read = (a0["save_s"] - fixed) / a0["kept"]
    write = (a["save_s"] - a0["save_s"]) / a["bytes_out"]
    compress = (b["save_s"] - fixed - b["kept"] * read - b["bytes_out"] * write) / b["compressed"]
    # The kept and compressed fractions of the calibration run, for
    # predictions that give none.
    return {
        "fixed_s": fixed,
        "filter_s_per_frame": 0.0,
        "read_s_per_page": read,
        "compress_s_per_page": compress,
        "write_s_per_byte": write,
        "kept_fraction": b["kept"] / b["frames"],
        "compressed_fraction_of_kept": b["compressed"] / b["kept"],
        "bytes_per_compressed_page": b["bytes_out"] / b["compressed"],
        "calibrated_on": [r["path"] for r in (a0, a, b)],
    }


def predict_save(costs, frames, kept, compressed, bytes_out, threads):
    return (costs["fixed_s"] + frames * costs["filter_s_per_frame"] + kept * costs["read_s_per_page"]
            + compressed * costs["compress_s_per_page"] / threads
            + bytes_out * costs["write_s_per_byte"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("calibrate")
    p.add_argument("runs", nargs=3, metavar="RUN", help="run directories A0 A B")
    p.add_argument("--kernel-per-cpu-mib", type=float, required=True,
                   help="the capture kernel's measured cost of one more CPU")
    p = sub.add_parser("check")
    p.add_argument("costs")
    p.add_argument("runs", nargs="+")
    p.add_argument("--tolerance", type=float, default=0.25,
                   help="largest |predicted - measured| / measured accepted (default 0.25)")
    p = sub.add_parser("predict")
    p.add_argument("costs")
    p.add_argument("--memory-gib", type=float, default=1024)
    p.add_argument("--kept", type=float, default=None,
                   help="kept fraction of frames (default: the calibration run's)")
    p.add_argument("--cpus", default="1,2,4,8,16,32,64")
    p = sub.add_parser("follows")
    p.add_argument("probe", help="the reservation-probe binary (build/tests/)")
    p.add_argument("costs")
    args = parser.parse_args()

    if args.command == "calibrate":
        costs = calibrate(*(read_run(r) for r in args.runs))
        costs["kernel_per_cpu_bytes"] = int(args.kernel_per_cpu_mib * MIB)
        json.dump(costs, sys.stdout, indent=2)
        print()
        return 0

    with open(args.costs) as f:
        costs = json.load(f)

    if args.command == "follows":
        return follows(args.probe, costs["kernel_per_cpu_bytes"])

    if args.command == "check":
        worst = 0.0
        print(f"{'run':<34} {'GiB':>4} {'cpus':>4} {'frames':>9} {'kept':>8} "
              f"{'measured_s':>10} {'predicted_s':>11} {'error':>7}")
        for directory in args.runs:
            r = read_run(directory)
            predicted = predict_save(costs, r["frames"], r["kept"], r["compressed"],
                                     r["bytes_out"], r["threads"])
            error = (predicted - r["save_s"]) / r["save_s"]
            worst = max(worst, abs(error))
            print(f"{r['name']:<34} {r['memory_mib'] / 1024:>4.0f} {r['threads']:>4} "
                  f"{r['frames']:>9} {r['kept']:>8} {r['save_s']:>10.2f} {predicted:>11.2f} "
                  f"{error:>+7.1%}")
        verdict = "within" if worst <= args.tolerance else "OUTSIDE"
        print(f"largest error {worst:.1%}: {verdict} the tolerance of {args.tolerance:.0%}")
        return 0 if worst <= args.tolerance else 1

    frames = int(args.memory_gib * GIB / PAGE)
    kept_fraction = args.kept if args.kept is not None else costs["kept_fraction"]
    kept = int(frames * kept_fraction)
    compressed = int(kept * costs["compressed_fraction_of_kept"])
    bytes_out = compressed * costs["bytes_per_compressed_page"]
    print(f"# {args.memory_gib:g} GiB = {frames} frames, kept fraction {kept_fraction:.3f} "
          f"({kept} pages, {compressed} compressed, {bytes_out / GIB:.1f} GiB out)")
    print(f"{'cpus':>4} {'save_s':>9} {'save_min':>8} {'compress_share':>14} "
          f"{'needed_MiB':>10} {'crashkernel':>11}")
    for cpus in (int(c) for c in args.cpus.split(",")):
        seconds = predict_save(costs, frames, kept, compressed, bytes_out, cpus)
        share = compressed * costs["compress_s_per_page"] / cpus / seconds
        needed, recommended = capture_need(int(args.memory_gib * GIB), cpus,
                                           costs["kernel_per_cpu_bytes"])
        print(f"{cpus:>4} {seconds:>9.1f} {seconds / 60:>8.1f} {share:>14.0%} "
              f"{needed / MIB:>10.1f} {recommended // MIB:>10}M")
    return 0


if __name__ == "__main__":
    sys.exit(main())
