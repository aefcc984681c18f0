"""The EMF side of the end-to-end check: the metric documents the functions printed, read
back from a `cargo lambda watch` log. Imported by the checks in scripts/e2e.sh."""
import json


def documents(log_path):
    """Every EMF document in the log, in order (a line may carry a prefix before it)."""
    docs = []
    for line in open(log_path, errors="replace"):
        start = line.find('{"_aws"')
        if start >= 0:
            docs.append(json.loads(line[start:]))
    return docs


def totals(docs, function):
    """The invocation totals (the `[Function]` dimension set) one function printed."""
    return [d for d in docs
            if d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Function"]] and d["Function"] == function]
