"""The controller: resources into revisions, routes and endpoints; desired scale into replicas."""
