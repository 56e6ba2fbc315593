"""Training: data and splits, masked losses, the training loop, checkpoints and task affinity."""
