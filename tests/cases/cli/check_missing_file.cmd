check does/not/exist.mspl
