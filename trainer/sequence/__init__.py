"""The sequence family: character-level language models (a 2-layer LSTM), trained, exported and served."""
