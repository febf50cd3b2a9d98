"""A seed-style scoring script, served by the real azureml-inference-server-http in the tests.

init() loads a "model" (a weight per feature) and prints that it did; run() prints the JSON of its
input and output, as the seed deployments do. What a call does is chosen by its input, so a test
knows each call's outcome in advance:

    {"data": [[1, 2, 3]]}                       -> 200, one prediction per row
    {"data": ..., "sleep_ms": 250}              -> the same, after sleeping that long
    {"data": ..., "fail": "raise"}              -> run() raises ValueError (the server answers 500)
    {"data": ..., "fail": "500"}                -> run() returns AMLResponse(..., 500)
"""

import json
import os
import time

from azureml.contrib.services.aml_response import AMLResponse

model = None


def init():
    global model
    model_dir = os.environ.get("AZUREML_MODEL_DIR", ".")
    with open(os.path.join(model_dir, "model.json")) as handle:
        model = json.load(handle)
    print(f"model initialized from {model_dir}: {len(model['weights'])} weights")


def run(raw_data):
    request = json.loads(raw_data)
    rows = request["data"]
    if request.get("sleep_ms"):
        time.sleep(request["sleep_ms"] / 1000)
    if request.get("fail") == "raise":
        raise ValueError(f"cannot score {len(rows)} rows: feature 3 is out of range")
    output = [sum(w * x for w, x in zip(model["weights"], row)) for row in rows]
    print(json.dumps({"input": rows, "output": output}))
    if request.get("fail") == "500":
        return AMLResponse({"error": "model refused the input", "output": output}, 500, json_str=True)
    return output
