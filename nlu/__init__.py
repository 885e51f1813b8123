"""Understanding free text: which language, which intent. Training data is in nlu/data/."""
