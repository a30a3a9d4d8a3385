"""`kerasseg zoo list | info NAME | verify [NAME] | evaluate NAME [DATA]`."""

import json
import os


def add_parser(commands):
    zoo = commands.add_parser(
        "zoo",
        help="pretrained weights: list, info, verify, evaluate",
        description="The model zoo: entries named <model>.<tag>, loaded "
        "with kerasseg.load(NAME).",
    )
    actions = zoo.add_subparsers(dest="zoo_command", metavar="ACTION")
    listing = actions.add_parser("list", help="the entries")
    listing.add_argument("pattern", nargs="?", default="*")
    info = actions.add_parser("info", help="an entry's record (JSON)")
    info.add_argument("name")
    verify = actions.add_parser(
        "verify",
        help="check weights files against their records (sha256, size)",
    )
    verify.add_argument("name", nargs="?")
    evaluate = actions.add_parser(
        "evaluate",
        help="per-class scores of an entry on its held-out split or DATA",
    )
    evaluate.add_argument("name")
    evaluate.add_argument(
        "data",
        nargs="?",
        help="a folder holding images/ and masks/ (images/ alone for a "
        "reconstruction entry; default: the entry's held-out split)",
    )
    return zoo


def run(args):
    from kerasseg import zoo

    action = args.zoo_command
    if action == "list":
        names = zoo.list_pretrained(args.pattern)
        if not names:
            print(f"No zoo entry matches {args.pattern!r}.")
            return 1
        width = max(len(n) for n in names)
        for name in names:
            record = zoo.info(name)
            held = record["metrics"].get("held_out", {})
            score = held.get("mean_iou")
            score = "" if score is None else f"held-out mIoU {score:.4f}"
            print(f"{name:<{width}}  {record['params']:>10,} params  {score}")
        return 0
    if action == "info":
        print(json.dumps(zoo.info(args.name), indent=2))
        return 0
    if action == "verify":
        for name, path in zoo.verify(args.name).items():
            print(f"{name}: ok ({path})")
        return 0
    if action == "evaluate":
        from kerasseg.training import evaluation
        from kerasseg.zoo import evaluate

        images = masks = None
        if args.data:
            images = os.path.join(args.data, "images")
            folders = [images]
            if zoo.info(args.name)["task"] != "reconstruction":
                masks = os.path.join(args.data, "masks")
                folders.append(masks)
            wanted = (
                "images/ and masks/ folders (paired by file name)"
                if masks
                else "an images/ folder"
            )
            for folder in folders:
                if not os.path.isdir(folder):
                    raise FileNotFoundError(
                        f"{args.data} must hold {wanted}; {folder} is missing."
                    )
        result = evaluate.evaluate(args.name, images=images, masks=masks)
        print(evaluation.table(result))
        return 0
    print(
        "usage: kerasseg zoo {list,info,verify,evaluate} ... "
        "(kerasseg zoo ACTION --help for each)"
    )
    return 0
