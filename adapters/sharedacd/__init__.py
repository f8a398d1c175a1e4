"""The ACD's routing state shared by the instances of one center, in PostgreSQL
(`ivr.runtime.acd.shared` is the runtime's side; docs/cluster.md says how it works).

`schema` creates the tables, `state` is the synchronous state on one psycopg connection
(every change one transaction), `routing` runs it from trio and turns PostgreSQL's
notifications into wake-ups.
"""
