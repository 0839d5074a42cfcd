#!/usr/bin/env python3
"""Trim GitHub's REST description to the operations tagged KEEP.

Input: generated/api.github.com.json from the npm package @octokit/openapi
(GitHub's official description, MIT). Output on stdout: the same document
with every operation whose first tag is not in KEEP removed, path items left
empty removed, and every component no longer reachable by $ref removed.
Nothing else is changed.

    npm pack @octokit/openapi@23.0.2
    tar xzf octokit-openapi-23.0.2.tgz package/generated/api.github.com.json
    python3 trim-github.py package/generated/api.github.com.json > github.json
"""
import json
import sys

KEEP = {"repos", "actions", "issues", "pulls", "git", "search", "meta", "rate-limit"}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

doc = json.load(open(sys.argv[1]))
paths = {}
for p, item in doc["paths"].items():
    kept = {}
    for k, v in item.items():
        if k in METHODS:
            if v.get("tags", [""])[0] in KEEP:
                kept[k] = v
        else:
            kept[k] = v
    if any(k in METHODS for k in kept):
        paths[p] = kept
doc["paths"] = paths


def refs(node, out):
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str) and r.startswith("#/components/"):
            out.add(r)
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


comps = doc["components"]
seen, todo = set(), set()
refs(doc["paths"], todo)
while todo:
    r = todo.pop()
    if r in seen:
        continue
    seen.add(r)
    _, _, kind, name = r.split("/", 3)
    name = name.replace("~1", "/").replace("~0", "~")
    refs(comps[kind][name], todo)
for kind in list(comps):
    comps[kind] = {n: v for n, v in comps[kind].items() if f"#/components/{kind}/{n.replace('~', '~0').replace('/', '~1')}" in seen}
json.dump(doc, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write("\n")
