"""What a worker runs requests with: the chain of layers, the layer protocol and the request context."""
