"""bench/RESULTS.md, one section at a time: each bench script writes its own section in place
(or appends it), leaving the others as they are.

    import sys; sys.path.insert(0, "bench"); from results_md import write_section
"""
import os
import re


def write_section(path, title, section):
    """Replaces the section whose heading starts `## {title}` (up to the next `## ` heading or
    the end) with `section`, or appends it; creates the file when there is none."""
    text = open(path).read() if os.path.exists(path) else "# Measurements\n\n"
    pattern = re.compile(r"^## " + re.escape(title) + r".*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(path, "w").write(text)
