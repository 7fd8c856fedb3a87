"""How the bot answers: the model's answer from the SDK, and the reply that carries it to the chat."""
