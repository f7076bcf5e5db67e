"""Read what postgres_exporter and Prometheus answer, for test/monitoring.sh.

    prom.py samples FILE NAME [LABEL=VALUE ...] [--print LABEL]
        The samples of metric NAME in the text exposition FILE whose labels
        include every LABEL=VALUE given: one line each, "VALUE<TAB>LABELS"
        (LABELS as JSON), or the value of the label given to --print.
    prom.py query < ANSWER
        The series of a /api/v1/query answer: "VALUE<TAB>LABELS" per series.
        Exits 1 when the answer is not a success.
    prom.py rules < ANSWER
        The rules of a /api/v1/rules answer: "GROUP<TAB>RULE<TAB>HEALTH<TAB>ERROR"
        per rule.  Exits 1 when the answer is not a success.

Standard library only: runs on the system python3 as well as in .venv.
"""

import json
import re
import sys

SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$")
LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')
ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def parse_labels(text):
    labels, pos = {}, 0
    text = text or ""
    while pos < len(text):
        m = LABEL.match(text, pos)
        if not m:
            raise ValueError("cannot parse labels: " + text)
        labels[m.group(1)] = re.sub(r'\\[\\"n]', lambda e: ESCAPES[e.group(0)], m.group(2))
        pos = m.end()
    return labels


def samples(path, name, wanted):
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            if not m or m.group(1) != name:
                continue
            labels = parse_labels(m.group(2))
            if all(labels.get(k) == v for k, v in wanted.items()):
                yield m.group(3), labels


def answer():
    doc = json.load(sys.stdin)
    if doc.get("status") != "success":
        print("error: %s: %s" % (doc.get("errorType"), doc.get("error")), file=sys.stderr)
        sys.exit(1)
    return doc["data"]


def main(argv):
    if len(argv) >= 3 and argv[0] == "samples":
        path, name, rest = argv[1], argv[2], argv[3:]
        show = None
        if "--print" in rest:
            i = rest.index("--print")
            show = rest[i + 1]
            rest = rest[:i] + rest[i + 2:]
        wanted = dict(arg.split("=", 1) for arg in rest)
        for value, labels in samples(path, name, wanted):
            if show is None:
                print("%s\t%s" % (value, json.dumps(labels, sort_keys=True)))
            else:
                print(labels.get(show, ""))
    elif argv == ["query"]:
        for series in answer()["result"]:
            print("%s\t%s" % (series["value"][1], json.dumps(series["metric"], sort_keys=True)))
    elif argv == ["rules"]:
        for group in answer()["groups"]:
            for rule in group["rules"]:
                print("\t".join([group["name"], rule["name"], rule.get("health", ""),
                                 rule.get("lastError", "")]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
