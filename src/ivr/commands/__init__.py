"""One module per `ivr` subcommand: `configure(parser)` adds its arguments, `run(args)` acts."""
