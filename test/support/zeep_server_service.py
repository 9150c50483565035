"""Calls the Server service of an OpenRMS member through python3-zeep, an independent SOAP stack.

Usage: zeep_server_service.py BASE_URL PATH USER PASSWORD
Loads PATH?wsdl, then on the SOAP 1.1 and 1.2 bindings calls GetLicensorCertificate,
GetServerInfo and FindServiceLocationsForUser, and prints what came back as JSON.
"""
import json
import sys

import requests
from lxml import etree
from zeep import Client, Settings
from zeep.transports import Transport

base, path, user, password = sys.argv[1:5]
session = requests.Session()
session.auth = (user, password)
client = Client(f"{base}{path}?wsdl", transport=Transport(session=session), settings=Settings(strict=True))
NS = "http://microsoft.com/DRM/ServerService"
version_data = client.get_element(f"{{{NS}}}VersionData")


def xml_of(value):
    """The certificates of an ArrayOfXmlNode: each <Certificate> holds an XrML element (mixed content)."""
    out = []
    for cert in value.Certificate:
        for node in cert._value_1 if isinstance(cert._value_1, list) else [cert._value_1]:
            if isinstance(node, etree._Element):
                out.append(etree.tostring(node, encoding="unicode"))
    return out


result = {"operations": sorted(op for op in client.service._binding._operations)}
for binding in ("ServerSoap", "ServerSoap12"):
    svc = client.bind("Server", binding)
    header = version_data(MinimumVersion="1.0.0.0", MaximumVersion="1.0.0.0")
    # Operations whose output declares a header come back as {header, body}.
    slc = svc.GetLicensorCertificate(_soapheaders=[header])
    assert slc.header.VersionData.MaximumVersion == "1.1.0.0", slc.header
    info = svc.GetServerInfo(requests={"ServerInfoRequest": [{"Type": "VersionInfo"}, {"Type": "ServerFeatureInfo"}, {"Type": "ServiceLocations"}]})
    info_xml = "".join(etree.tostring(n, encoding="unicode") for n in info._value_1) if hasattr(info, "_value_1") else etree.tostring(info, encoding="unicode") if isinstance(info, etree._Element) else str(info)
    located = svc.FindServiceLocationsForUser(
        ServiceNames={"ServiceLocationRequest": [{"Type": "CertificationService"}, {"Type": "LicensingService"}, {"Type": "ActivationService"}]},
        _soapheaders=[header],
    )
    locations = located.body.FindServiceLocationsForUserResult.ServiceLocationResponse
    result[binding] = {
        "chain": xml_of(slc.body.GetLicensorCertificateResult.CertificateChain),
        "serverInfo": info_xml,
        "locations": [{"type": l.Type, "url": l.URL} for l in locations],
    }
print(json.dumps(result))
