"""Calls Certify and AcquireLicense through python3-zeep with raw XML arguments.

Usage: zeep_licensing.py BASE_URL USER PASSWORD SPC_FILE RAC_FILE PL_CHAIN_FILE...
Prints JSON: the certificate chains zeep got back from Certify (for SPC_FILE) and from
AcquireLicense (for the RAC in RAC_FILE and the PL chain), each certificate as an XML string.
"""
import json
import sys

import requests
from lxml import etree
from zeep import Client, Settings
from zeep.transports import Transport

base, user, password, spc_file, rac_file, *pl_files = sys.argv[1:]
session = requests.Session()
session.auth = (user, password)
transport = Transport(session=session)
settings = Settings(strict=True)


def element(path):
    with open(path, "rb") as f:
        return etree.fromstring(f.read())


def certificates(array):
    out = []
    for cert in array.Certificate:
        nodes = cert._value_1 if isinstance(cert._value_1, list) else [cert._value_1]
        out.extend(etree.tostring(n, encoding="unicode") for n in nodes if isinstance(n, etree._Element))
    return out


def version(client, ns):
    return client.get_element(f"{{{ns}}}VersionData")(MinimumVersion="1.0.0.0", MaximumVersion="1.0.0.0")


cert_client = Client(f"{base}/_wmcs/certification/certification.asmx?wsdl", transport=transport, settings=settings)
certified = cert_client.service.Certify(
    requestParams={"MachineCertificateChain": {"Certificate": [{"_value_1": element(spc_file)}]}, "Persistent": True},
    _soapheaders=[version(cert_client, "http://microsoft.com/DRM/CertificationService")],
)
result = certified.body.CertifyResult
out = {
    "certify": certificates(result.CertificateChain),
    "quota": {"verified": result.Quota.Verified, "current": result.Quota.CurrentConsumption, "maximum": result.Quota.Maximum},
}

lic_client = Client(f"{base}/_wmcs/licensing/license.asmx?wsdl", transport=transport, settings=settings)
licensed = lic_client.service.AcquireLicense(
    RequestParams={
        "AcquireLicenseParams": [
            {
                "LicenseeCerts": {"Certificate": [{"_value_1": element(rac_file)}]},
                "IssuanceLicense": {"Certificate": [{"_value_1": element(p)} for p in pl_files]},
            }
        ]
    },
    _soapheaders=[version(lic_client, "http://microsoft.com/DRM/LicensingService")],
)
out["license"] = [certificates(r.CertificateChain) for r in licensed.body.AcquireLicenseResult.AcquireLicenseResponse]
print(json.dumps(out))
