namespace Sealpost.Client.Storage;

/// <summary><c>contacts.json</c>: the keys pinned for each contact.</summary>
internal sealed class ContactsDocument
{
    public SortedDictionary<string, Contact> Contacts { get; set; } = new(StringComparer.Ordinal);
}
