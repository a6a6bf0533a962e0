"""Reinforcement learning: DQN on gymnasium's Atari games and CartPole, exported as a served policy."""
