from ivr.runtime.modules import Module

module = Module("alpha", operations={})
