"""What every measuring script in benchmarks/ ends with: the table under
a title naming the machine, and optionally the rows as JSON."""

import json


def report(title, table, rows, json_path=None):
    from kerasseg.zoo.publish import machine

    where = machine()
    print(f"\n{title} on {where}\n")
    print(table)
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"machine": where, "rows": rows}, f, indent=2)
