#!/usr/bin/env python3
"""Fails when a Catch2 test case's name contains ';'.

catch_discover_tests hands CTest the names as a CMake list, which splits at ';': such a test
becomes two entries that match no test case and never runs (five did, 2026-12-07). Names come
from TEST_CASE( "..." "..." , ...) in tests/*.cpp, adjacent literals joined.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
literal = r'"(?:[^"\\]|\\.)*"'
pattern = re.compile(r'\bTEST_CASE\(\s*((?:' + literal + r'\s*)+)')
bad = []
for path in sorted((root / "tests").glob("*.cpp")):
    text = path.read_text(encoding="utf-8")
    for match in pattern.finditer(text):
        name = "".join(re.findall(literal, match.group(1)))
        name = name.replace('""', "").strip('"')
        if ";" in name:
            line = text.count("\n", 0, match.start()) + 1
            bad.append(f"{path.relative_to(root)}:{line}: {name}")
if bad:
    print("test case names with ';' (CTest splits them and never runs the test); use ',' or ':':")
    print("\n".join(bad))
    sys.exit(1)
print("no test case name contains ';'")
