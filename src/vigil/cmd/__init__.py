"""vigil's commands, one module each; what a process runs is a list of services and
reloaders (`vigil.cmd.services`)."""
