using System.Net;
using Sealpost.ServiceDefaults;

namespace Sealpost.Users.Tests;

/// <summary>The key per-address limits count under (security review L5).</summary>
public sealed class AddressSubjectTests
{
    [Theory]
    [InlineData("203.0.113.9", "@203.0.113.9")]
    [InlineData("::ffff:203.0.113.9", "@203.0.113.9")]
    [InlineData("2001:db8:1:2::1", "@2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2:ffff:ffff:ffff:ffff", "@2001:db8:1:2::/64")]
    [InlineData("fe80::1%2", "@fe80::/64")]
    public void An_address_counts_as_itself_for_IPv4_and_as_its_64_network_for_IPv6(string address, string subject) =>
        Assert.Equal(subject, AddressSubject.Of(IPAddress.Parse(address)));

    [Fact]
    public void Every_address_of_one_IPv6_64_shares_one_subject_and_another_64_does_not()
    {
        var one = Enumerable.Range(0, 50).Select(_ => AddressSubject.Of(RandomIn("2001:db8:aa:bb"))).Distinct();
        Assert.Single(one);
        Assert.NotEqual(AddressSubject.Of(IPAddress.Parse("2001:db8:aa:bc::1")), AddressSubject.Of(IPAddress.Parse("2001:db8:aa:bb::1")));
    }

    private static IPAddress RandomIn(string prefix64)
    {
        var bytes = IPAddress.Parse(prefix64 + "::").GetAddressBytes();
        Random.Shared.NextBytes(bytes.AsSpan(8));
        return new IPAddress(bytes);
    }
}
