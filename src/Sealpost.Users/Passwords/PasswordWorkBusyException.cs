namespace Sealpost.Users.Passwords;

/// <summary>Every Argon2id slot is taken and the queue is full (or the wait ran out): answered 503 with Retry-After.</summary>
public sealed class PasswordWorkBusyException() : Exception("Every password-hashing slot is busy.");
