"""What the scripts in benchmarks/ that score zoo entries share: an
entry's record and the config of its held-out data."""


def entry_and_config(name, scenes):
    """The zoo record of `name` and its evaluation config; a
    fashion_scenes entry is scored on `scenes` held-out scenes (the card
    uses 3,200)."""
    from kerasseg.zoo import evaluate as zoo_evaluate
    from kerasseg.zoo import records

    record = records.get(name)
    config = zoo_evaluate.entry_config(record)
    if config["data"]["dataset"] == "fashion_scenes":
        config["data"]["options"] = {
            **config["data"]["options"],
            "num_scenes": scenes,
        }
    return record, config
