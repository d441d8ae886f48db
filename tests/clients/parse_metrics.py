"""Parses a metrics exposition with the official Python client's parsers (prometheus_client), a
reader nobody here wrote, and prints what it understood as JSON.

Usage: parse_metrics.py prometheus|openmetrics < exposition
Prints {"family name": {"type": ..., "samples": [[sample name, {labels}, value], ...]}}; exits
non-zero (with the parser's error) if the text does not parse.
"""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus


def main():
    parse = {"prometheus": parse_prometheus, "openmetrics": parse_om}[sys.argv[1]]
    families = {}
    for family in parse(sys.stdin.read()):
        families[family.name] = {
            "type": family.type,
            "samples": [[s.name, s.labels, s.value] for s in family.samples],
        }
    json.dump(families, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
