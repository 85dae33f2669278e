#!/usr/bin/python3
"""The skipped tests of a JUnit XML file, one line each, with their reasons.

Reads what ctest writes (--output-junit: a <skipped/> case whose
system-out holds "FILE:LINE: Skipped" and then the reason) and what a
GoogleTest binary writes (--gtest_output=xml: <skipped message="FILE:LINE
\\nreason"/>, the suite in classname). Each line is FORMAT with {name}
(Suite.Test) and {reason}; cases named after --except are left out (the
root-only tests that passed as nobody).

  junit-skips.py FILE FORMAT [--except NAME...]
"""
import sys
import xml.etree.ElementTree as ET


def skipped_cases(path):
    for case in ET.parse(path).iter("testcase"):
        skipped = case.find("skipped")
        if skipped is None and case.get("result") != "skipped":
            continue
        name = case.get("name", "")
        classname = case.get("classname", "")
        if classname and "." not in name:  # GoogleTest's own XML
            name = f"{classname}.{name}"
        out = (case.findtext("system-out") or "").splitlines()
        reason = next((out[i + 1].strip() for i, line in enumerate(out[:-1])
                       if line.endswith(": Skipped")), "")
        if not reason and skipped is not None and skipped.get("message"):
            reason = skipped.get("message").strip().splitlines()[-1].strip()
        yield name, reason or "skipped"


def main(argv):
    if len(argv) < 3 or (len(argv) > 3 and argv[3] != "--except"):
        sys.exit(__doc__)
    left_out = set(argv[4:])
    for name, reason in skipped_cases(argv[1]):
        if name not in left_out:
            print(argv[2].format(name=name, reason=reason))


if __name__ == "__main__":
    main(sys.argv)
