"""The controller: hops each service of the target make-before-break behind the proxy."""
