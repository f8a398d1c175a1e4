"""`python -m ivr.flowlang.schemas`: rewrite both copies of the schema files from the generator."""

from ivr.flowlang.schemas import HERE, write

write((HERE, HERE.parents[1] / "schema"))
