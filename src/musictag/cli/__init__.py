"""The command line: parses arguments, calls the library, prints; each command imports its engine when it runs."""
