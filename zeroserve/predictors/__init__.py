"""Model servers Zeroserve ships for a ``modelFormat`` (like KServe's ServingRuntimes).

Each is a standalone program run as a replica's process, for example
``python -m zeroserve.predictors.sklearn_server --port 8081 --model-name iris --model-dir DIR``.
They import nothing of Zeroserve's, only their framework and aiohttp, so they run in any
environment that has those (a container image, a model's own virtualenv).
"""
