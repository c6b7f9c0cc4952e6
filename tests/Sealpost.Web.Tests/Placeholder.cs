namespace Sealpost.Web.Tests;
