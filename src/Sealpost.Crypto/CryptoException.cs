namespace Sealpost.Crypto;

/// <summary>
/// A message could not be opened (wrong key, wrong sender, altered bytes, not an envelope) or a
/// public key is unusable. The message is written for people and never says which byte was wrong.
/// </summary>
public sealed class CryptoException : Exception
{
    public CryptoException()
    {
    }

    public CryptoException(string message) : base(message)
    {
    }

    public CryptoException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
